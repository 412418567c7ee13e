-- Triggers that keep ttp_technique_stats exact on every insert and delete
-- of a tag.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER ttp_tag_stats_insert AFTER INSERT ON ttp_tag
BEGIN
    INSERT INTO ttp_technique_stats (technique_id, sub_technique_id, tactic, tag_count, last_seen)
    VALUES (NEW.technique_id, coalesce(NEW.sub_technique_id, ''), NEW.tactic, 1, NEW.created_at)
    ON CONFLICT (technique_id, sub_technique_id, tactic) DO UPDATE
    SET tag_count = tag_count + 1,
        last_seen = max(last_seen, excluded.last_seen);
END;
-- +goose StatementEnd

-- A deleted tag that held the group's last_seen forces a recomputation,
-- which the ttp_tag_technique index answers with one seek.
-- +goose StatementBegin
CREATE TRIGGER ttp_tag_stats_delete AFTER DELETE ON ttp_tag
BEGIN
    UPDATE ttp_technique_stats
    SET tag_count = tag_count - 1,
        last_seen = CASE
            WHEN OLD.created_at < last_seen THEN last_seen
            ELSE coalesce((
                SELECT max(t.created_at) FROM ttp_tag t
                WHERE t.technique_id = OLD.technique_id
                  AND t.sub_technique_id IS OLD.sub_technique_id
                  AND t.tactic = OLD.tactic), '')
        END
    WHERE technique_id = OLD.technique_id
      AND sub_technique_id = coalesce(OLD.sub_technique_id, '')
      AND tactic = OLD.tactic;
    DELETE FROM ttp_technique_stats
    WHERE technique_id = OLD.technique_id
      AND sub_technique_id = coalesce(OLD.sub_technique_id, '')
      AND tactic = OLD.tactic
      AND tag_count <= 0;
END;
-- +goose StatementEnd

-- Tags written while these triggers were absent (a database migrated down
-- to 00001 and written to) are not in the stats: rebuild them from the
-- tag table, so that the counts are exact from here on.
DELETE FROM ttp_technique_stats;
INSERT INTO ttp_technique_stats (technique_id, sub_technique_id, tactic, tag_count, last_seen)
SELECT technique_id, coalesce(sub_technique_id, ''), tactic, count(*), max(created_at)
FROM ttp_tag
GROUP BY technique_id, coalesce(sub_technique_id, ''), tactic;

-- +goose Down
DROP TRIGGER ttp_tag_stats_delete;
DROP TRIGGER ttp_tag_stats_insert;
