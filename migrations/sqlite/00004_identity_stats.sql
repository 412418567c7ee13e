-- Per-identity technique counts, kept exact by triggers, so that the
-- campaign rollup reads one row per (identity, technique) of the campaign
-- instead of every tag of its identities and their attackers.
--
-- ttp_identity_stats holds, for every identity, what its rollup would
-- count: the tags anchored on the identity and the tags of its attackers,
-- a tag matching both ways once. The identity's campaign leads the key
-- ('' for none, which no campaign id can be), so a campaign's rows are one
-- range of the primary key; an identity that changes campaign has its rows
-- rewritten by a trigger.
--
-- A tag anchored on identity X whose attacker belongs to identity Y is in
-- both X's and Y's rows. ttp_cross_stats counts those tags by (Y, X), so
-- that a campaign holding both X and Y can take them out of its sum once.
--
-- Every change that moves a tag in or out of an identity's scope has a
-- trigger: a tag inserted or deleted, an attacker moved to another
-- identity (or to none), an identity moved to another campaign. Deleting
-- an attacker deletes its tags first, while the attacker row still tells
-- which identity they counted for.

-- +goose Up
CREATE TABLE ttp_identity_stats (
    campaign_id      TEXT NOT NULL,
    identity_uuid    TEXT NOT NULL,
    technique_id     TEXT NOT NULL,
    sub_technique_id TEXT NOT NULL,
    tactic           TEXT NOT NULL,
    tag_count        INTEGER NOT NULL,
    last_seen        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, identity_uuid, technique_id, sub_technique_id, tactic)
) STRICT, WITHOUT ROWID;

-- Serves the triggers, which know an identity but not its campaign. The
-- entries carry the whole primary key, so no table lookup follows.
CREATE INDEX ttp_identity_stats_identity ON ttp_identity_stats (identity_uuid);

CREATE TABLE ttp_cross_stats (
    via_identity     TEXT NOT NULL,
    tag_identity     TEXT NOT NULL,
    technique_id     TEXT NOT NULL,
    sub_technique_id TEXT NOT NULL,
    tag_count        INTEGER NOT NULL,
    PRIMARY KEY (via_identity, tag_identity, technique_id, sub_technique_id)
) STRICT, WITHOUT ROWID;

-- A new tag counts once for each distinct identity it reaches: its own and
-- its attacker's.
-- +goose StatementBegin
CREATE TRIGGER ttp_tag_identity_stats_insert AFTER INSERT ON ttp_tag
BEGIN
    INSERT INTO ttp_identity_stats (campaign_id, identity_uuid, technique_id, sub_technique_id, tactic, tag_count, last_seen)
    SELECT coalesce(i.campaign_id, ''), i.uuid, NEW.technique_id, coalesce(NEW.sub_technique_id, ''), NEW.tactic, 1, NEW.created_at
    FROM attacker_identities i
    WHERE i.uuid IN (NEW.identity_uuid, (SELECT a.identity_id FROM attackers a WHERE a.uuid = NEW.attacker_uuid))
    ON CONFLICT DO UPDATE
    SET tag_count = tag_count + 1,
        last_seen = max(last_seen, excluded.last_seen);
    INSERT INTO ttp_cross_stats (via_identity, tag_identity, technique_id, sub_technique_id, tag_count)
    SELECT a.identity_id, NEW.identity_uuid, NEW.technique_id, coalesce(NEW.sub_technique_id, ''), 1
    FROM attackers a
    WHERE a.uuid = NEW.attacker_uuid AND a.identity_id <> NEW.identity_uuid
    ON CONFLICT DO UPDATE SET tag_count = tag_count + 1;
END;
-- +goose StatementEnd

-- A deleted tag that held a group's last_seen forces that group's
-- recomputation over the identity's scope.
-- +goose StatementBegin
CREATE TRIGGER ttp_tag_identity_stats_delete AFTER DELETE ON ttp_tag
BEGIN
    UPDATE ttp_identity_stats
    SET tag_count = tag_count - 1,
        last_seen = CASE
            WHEN OLD.created_at < last_seen THEN last_seen
            ELSE max(
                coalesce((SELECT max(t.created_at) FROM ttp_tag t
                          WHERE t.identity_uuid = ttp_identity_stats.identity_uuid
                            AND t.technique_id = OLD.technique_id
                            AND t.sub_technique_id IS OLD.sub_technique_id
                            AND t.tactic = OLD.tactic), ''),
                coalesce((SELECT max(t.created_at) FROM attackers a JOIN ttp_tag t ON t.attacker_uuid = a.uuid
                          WHERE a.identity_id = ttp_identity_stats.identity_uuid
                            AND (t.identity_uuid IS NULL OR t.identity_uuid <> a.identity_id)
                            AND t.technique_id = OLD.technique_id
                            AND t.sub_technique_id IS OLD.sub_technique_id
                            AND t.tactic = OLD.tactic), ''))
        END
    WHERE identity_uuid IN (OLD.identity_uuid, (SELECT a.identity_id FROM attackers a WHERE a.uuid = OLD.attacker_uuid))
      AND technique_id = OLD.technique_id
      AND sub_technique_id = coalesce(OLD.sub_technique_id, '')
      AND tactic = OLD.tactic;
    DELETE FROM ttp_identity_stats
    WHERE identity_uuid IN (OLD.identity_uuid, (SELECT a.identity_id FROM attackers a WHERE a.uuid = OLD.attacker_uuid))
      AND technique_id = OLD.technique_id
      AND sub_technique_id = coalesce(OLD.sub_technique_id, '')
      AND tactic = OLD.tactic
      AND tag_count <= 0;
    UPDATE ttp_cross_stats
    SET tag_count = tag_count - 1
    WHERE via_identity = (SELECT a.identity_id FROM attackers a WHERE a.uuid = OLD.attacker_uuid)
      AND tag_identity = OLD.identity_uuid
      AND technique_id = OLD.technique_id
      AND sub_technique_id = coalesce(OLD.sub_technique_id, '');
    DELETE FROM ttp_cross_stats
    WHERE via_identity = (SELECT a.identity_id FROM attackers a WHERE a.uuid = OLD.attacker_uuid)
      AND tag_identity = OLD.identity_uuid
      AND technique_id = OLD.technique_id
      AND sub_technique_id = coalesce(OLD.sub_technique_id, '')
      AND tag_count <= 0;
END;
-- +goose StatementEnd

-- An attacker's tags leave its old identity's scope (those not anchored on
-- that identity itself) and join the new one's. The old identity's
-- affected groups are recounted over its scope, which no longer holds the
-- attacker; the new identity's grow by the attacker's tags.
-- +goose StatementBegin
CREATE TRIGGER attackers_identity_stats_move AFTER UPDATE OF identity_id ON attackers
WHEN OLD.identity_id IS NOT NEW.identity_id
BEGIN
    UPDATE ttp_identity_stats
    SET (tag_count, last_seen) = (
        SELECT count(*), coalesce(max(s.created_at), '')
        FROM (
            SELECT t.created_at FROM ttp_tag t
            WHERE t.identity_uuid = ttp_identity_stats.identity_uuid
              AND t.technique_id = ttp_identity_stats.technique_id
              AND coalesce(t.sub_technique_id, '') = ttp_identity_stats.sub_technique_id
              AND t.tactic = ttp_identity_stats.tactic
            UNION ALL
            SELECT t.created_at FROM attackers a JOIN ttp_tag t ON t.attacker_uuid = a.uuid
            WHERE a.identity_id = ttp_identity_stats.identity_uuid
              AND (t.identity_uuid IS NULL OR t.identity_uuid <> a.identity_id)
              AND t.technique_id = ttp_identity_stats.technique_id
              AND coalesce(t.sub_technique_id, '') = ttp_identity_stats.sub_technique_id
              AND t.tactic = ttp_identity_stats.tactic
        ) AS s)
    WHERE identity_uuid = OLD.identity_id
      AND (technique_id, sub_technique_id, tactic) IN (
          SELECT t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic
          FROM ttp_tag t WHERE t.attacker_uuid = NEW.uuid);
    DELETE FROM ttp_identity_stats
    WHERE identity_uuid = OLD.identity_id AND tag_count <= 0;

    INSERT INTO ttp_identity_stats (campaign_id, identity_uuid, technique_id, sub_technique_id, tactic, tag_count, last_seen)
    SELECT coalesce(i.campaign_id, ''), i.uuid, t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic, count(*), max(t.created_at)
    FROM attacker_identities i JOIN ttp_tag t ON t.attacker_uuid = NEW.uuid
    WHERE i.uuid = NEW.identity_id
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> i.uuid)
    GROUP BY t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic
    ON CONFLICT DO UPDATE
    SET tag_count = tag_count + excluded.tag_count,
        last_seen = max(last_seen, excluded.last_seen);

    INSERT INTO ttp_cross_stats (via_identity, tag_identity, technique_id, sub_technique_id, tag_count)
    SELECT OLD.identity_id, t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, ''), -count(*)
    FROM ttp_tag t
    WHERE t.attacker_uuid = NEW.uuid AND t.identity_uuid <> OLD.identity_id
    GROUP BY t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, '')
    ON CONFLICT DO UPDATE SET tag_count = tag_count + excluded.tag_count;
    DELETE FROM ttp_cross_stats
    WHERE via_identity = OLD.identity_id AND tag_count <= 0;
    INSERT INTO ttp_cross_stats (via_identity, tag_identity, technique_id, sub_technique_id, tag_count)
    SELECT NEW.identity_id, t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, ''), count(*)
    FROM ttp_tag t
    WHERE t.attacker_uuid = NEW.uuid AND t.identity_uuid <> NEW.identity_id
    GROUP BY t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, '')
    ON CONFLICT DO UPDATE SET tag_count = tag_count + excluded.tag_count;
END;
-- +goose StatementEnd

-- An attacker written with its identity after its tags (possible only with
-- foreign keys off) brings them along, as a move from no identity would.
-- +goose StatementBegin
CREATE TRIGGER attackers_identity_stats_insert AFTER INSERT ON attackers
WHEN NEW.identity_id IS NOT NULL
BEGIN
    INSERT INTO ttp_identity_stats (campaign_id, identity_uuid, technique_id, sub_technique_id, tactic, tag_count, last_seen)
    SELECT coalesce(i.campaign_id, ''), i.uuid, t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic, count(*), max(t.created_at)
    FROM attacker_identities i JOIN ttp_tag t ON t.attacker_uuid = NEW.uuid
    WHERE i.uuid = NEW.identity_id
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> i.uuid)
    GROUP BY t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic
    ON CONFLICT DO UPDATE
    SET tag_count = tag_count + excluded.tag_count,
        last_seen = max(last_seen, excluded.last_seen);
    INSERT INTO ttp_cross_stats (via_identity, tag_identity, technique_id, sub_technique_id, tag_count)
    SELECT NEW.identity_id, t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, ''), count(*)
    FROM ttp_tag t
    WHERE t.attacker_uuid = NEW.uuid AND t.identity_uuid <> NEW.identity_id
    GROUP BY t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, '')
    ON CONFLICT DO UPDATE SET tag_count = tag_count + excluded.tag_count;
END;
-- +goose StatementEnd

-- The foreign key's cascade would delete an attacker's tags after the
-- attacker row is gone, when ttp_tag_identity_stats_delete could no longer
-- find the identity they counted for; deleting them first keeps it exact.
-- +goose StatementBegin
CREATE TRIGGER attackers_delete_tags BEFORE DELETE ON attackers
BEGIN
    DELETE FROM ttp_tag WHERE attacker_uuid = OLD.uuid;
END;
-- +goose StatementEnd

-- With foreign keys on, deleting an identity deletes its tags and detaches
-- its attackers, and the triggers above take them out of the counts. With
-- foreign keys off (the sqlite3 shell's default) neither happens, and the
-- tags left pointing at the deleted identity no longer count for it, as in
-- the rollups read from ttp_tag; so its rows go here either way. The cross
-- counts are small (tags whose two anchors name different identities) and
-- read in full here, rather than kept under one more index.
-- +goose StatementBegin
CREATE TRIGGER attacker_identities_stats_delete AFTER DELETE ON attacker_identities
BEGIN
    DELETE FROM ttp_identity_stats WHERE identity_uuid = OLD.uuid;
    DELETE FROM ttp_cross_stats WHERE via_identity = OLD.uuid OR tag_identity = OLD.uuid;
END;
-- +goose StatementEnd

-- An identity written again after such a delete finds those tags and
-- attackers still pointing at it, and counts them again. With foreign keys
-- on, a new identity has none, and this finds nothing.
-- +goose StatementBegin
CREATE TRIGGER attacker_identities_stats_insert AFTER INSERT ON attacker_identities
BEGIN
    INSERT INTO ttp_identity_stats (campaign_id, identity_uuid, technique_id, sub_technique_id, tactic, tag_count, last_seen)
    SELECT coalesce(NEW.campaign_id, ''), NEW.uuid, s.technique_id, s.sub_technique_id, s.tactic, count(*), max(s.created_at)
    FROM (
        SELECT t.technique_id, coalesce(t.sub_technique_id, '') AS sub_technique_id, t.tactic, t.created_at
        FROM ttp_tag t
        WHERE t.identity_uuid = NEW.uuid
        UNION ALL
        SELECT t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic, t.created_at
        FROM attackers a JOIN ttp_tag t ON t.attacker_uuid = a.uuid
        WHERE a.identity_id = NEW.uuid
          AND (t.identity_uuid IS NULL OR t.identity_uuid <> a.identity_id)
    ) AS s
    WHERE true
    GROUP BY s.technique_id, s.sub_technique_id, s.tactic
    ON CONFLICT DO UPDATE
    SET tag_count = tag_count + excluded.tag_count,
        last_seen = max(last_seen, excluded.last_seen);
    INSERT INTO ttp_cross_stats (via_identity, tag_identity, technique_id, sub_technique_id, tag_count)
    SELECT c.via_identity, c.tag_identity, c.technique_id, c.sub_technique_id, count(*)
    FROM (
        SELECT a.identity_id AS via_identity, t.identity_uuid AS tag_identity, t.technique_id,
               coalesce(t.sub_technique_id, '') AS sub_technique_id
        FROM ttp_tag t JOIN attackers a ON a.uuid = t.attacker_uuid
        WHERE t.identity_uuid = NEW.uuid AND a.identity_id <> NEW.uuid
        UNION ALL
        SELECT a.identity_id, t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, '')
        FROM attackers a JOIN ttp_tag t ON t.attacker_uuid = a.uuid
        WHERE a.identity_id = NEW.uuid AND t.identity_uuid <> NEW.uuid
    ) AS c
    WHERE true
    GROUP BY c.via_identity, c.tag_identity, c.technique_id, c.sub_technique_id
    ON CONFLICT DO UPDATE SET tag_count = tag_count + excluded.tag_count;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER attacker_identities_stats_campaign AFTER UPDATE OF campaign_id ON attacker_identities
WHEN OLD.campaign_id IS NOT NEW.campaign_id
BEGIN
    UPDATE ttp_identity_stats
    SET campaign_id = coalesce(NEW.campaign_id, '')
    WHERE identity_uuid = NEW.uuid;
END;
-- +goose StatementEnd

-- Built from the tables as they stand, like 00002's stats.
INSERT INTO ttp_identity_stats (campaign_id, identity_uuid, technique_id, sub_technique_id, tactic, tag_count, last_seen)
SELECT coalesce(i.campaign_id, ''), i.uuid, s.technique_id, s.sub_technique_id, s.tactic, count(*), max(s.created_at)
FROM (
    SELECT t.identity_uuid AS identity_uuid, t.technique_id, coalesce(t.sub_technique_id, '') AS sub_technique_id,
           t.tactic, t.created_at
    FROM ttp_tag t
    WHERE t.identity_uuid IS NOT NULL
    UNION ALL
    SELECT a.identity_id, t.technique_id, coalesce(t.sub_technique_id, ''), t.tactic, t.created_at
    FROM ttp_tag t JOIN attackers a ON a.uuid = t.attacker_uuid
    WHERE a.identity_id IS NOT NULL
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> a.identity_id)
) AS s
JOIN attacker_identities i ON i.uuid = s.identity_uuid
GROUP BY i.uuid, s.technique_id, s.sub_technique_id, s.tactic;

INSERT INTO ttp_cross_stats (via_identity, tag_identity, technique_id, sub_technique_id, tag_count)
SELECT a.identity_id, t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, ''), count(*)
FROM ttp_tag t JOIN attackers a ON a.uuid = t.attacker_uuid
WHERE a.identity_id <> t.identity_uuid
GROUP BY a.identity_id, t.identity_uuid, t.technique_id, coalesce(t.sub_technique_id, '');

-- +goose Down
DROP TRIGGER attacker_identities_stats_campaign;
DROP TRIGGER attacker_identities_stats_insert;
DROP TRIGGER attacker_identities_stats_delete;
DROP TRIGGER attackers_delete_tags;
DROP TRIGGER attackers_identity_stats_insert;
DROP TRIGGER attackers_identity_stats_move;
DROP TRIGGER ttp_tag_identity_stats_delete;
DROP TRIGGER ttp_tag_identity_stats_insert;
DROP TABLE ttp_cross_stats;
DROP TABLE ttp_identity_stats;
