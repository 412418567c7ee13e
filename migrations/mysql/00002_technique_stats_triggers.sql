-- Triggers that keep ttp_technique_stats exact on every insert and delete
-- of a tag. Kept apart from 00001 because sqlc's MySQL parser cannot read
-- CREATE TRIGGER; sqlc.yaml lists the migrations it reads.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER ttp_tag_stats_insert AFTER INSERT ON ttp_tag FOR EACH ROW
    INSERT INTO ttp_technique_stats (technique_id, sub_technique_id, tactic, tag_count, last_seen)
    VALUES (NEW.technique_id, COALESCE(NEW.sub_technique_id, ''), NEW.tactic, 1, NEW.created_at)
    ON DUPLICATE KEY UPDATE
        tag_count = tag_count + 1,
        last_seen = GREATEST(last_seen, VALUES(last_seen));
-- +goose StatementEnd

-- A deleted tag that held the group's last_seen forces a recomputation,
-- which the ttp_tag_technique index answers with one seek.
-- +goose StatementBegin
CREATE TRIGGER ttp_tag_stats_delete AFTER DELETE ON ttp_tag FOR EACH ROW
BEGIN
    UPDATE ttp_technique_stats
    SET tag_count = tag_count - 1,
        last_seen = CASE
            WHEN OLD.created_at < last_seen THEN last_seen
            ELSE COALESCE((
                SELECT MAX(t.created_at) FROM ttp_tag t
                WHERE t.technique_id = OLD.technique_id
                  AND t.sub_technique_id <=> OLD.sub_technique_id
                  AND t.tactic = OLD.tactic), last_seen)
        END
    WHERE technique_id = OLD.technique_id
      AND sub_technique_id = COALESCE(OLD.sub_technique_id, '')
      AND tactic = OLD.tactic;
    DELETE FROM ttp_technique_stats
    WHERE technique_id = OLD.technique_id
      AND sub_technique_id = COALESCE(OLD.sub_technique_id, '')
      AND tactic = OLD.tactic
      AND tag_count <= 0;
END;
-- +goose StatementEnd

-- InnoDB does not fire triggers for rows removed by a foreign key cascade,
-- so the stats above would drift when an attacker or identity is deleted.
-- These triggers delete the tags first, as ordinary deletes that do fire
-- ttp_tag_stats_delete; the cascade then finds nothing left to remove.
-- +goose StatementBegin
CREATE TRIGGER attackers_delete_tags BEFORE DELETE ON attackers FOR EACH ROW
    DELETE FROM ttp_tag WHERE attacker_uuid = OLD.uuid;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attacker_identities_delete_tags BEFORE DELETE ON attacker_identities FOR EACH ROW
    DELETE FROM ttp_tag WHERE identity_uuid = OLD.uuid;
-- +goose StatementEnd

-- Tags written while these triggers were absent (a database migrated down
-- to 00001 and written to) are not in the stats: rebuild them from the
-- tag table, so that the counts are exact from here on.
DELETE FROM ttp_technique_stats;
INSERT INTO ttp_technique_stats (technique_id, sub_technique_id, tactic, tag_count, last_seen)
SELECT technique_id, COALESCE(sub_technique_id, ''), tactic, COUNT(*), MAX(created_at)
FROM ttp_tag
GROUP BY technique_id, COALESCE(sub_technique_id, ''), tactic;

-- +goose Down
DROP TRIGGER attacker_identities_delete_tags;
DROP TRIGGER attackers_delete_tags;
DROP TRIGGER ttp_tag_stats_delete;
DROP TRIGGER ttp_tag_stats_insert;
