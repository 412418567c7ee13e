-- The two covering scope indexes without the tag uuid at their end.
--
-- Every index entry of a rowid table already ends with the row's rowid, so
-- the uuid (36 characters) only made the entries longer: about a fifth of
-- ttp_tag_attacker's size. The campaign rollup, the one reader that
-- needed it there, now counts each tag once without comparing tag ids.
-- The drill-down pages, which order by (created_at, uuid), read the rows
-- they return anyway.

-- +goose Up
DROP INDEX ttp_tag_identity;
CREATE INDEX ttp_tag_identity ON ttp_tag (identity_uuid, created_at, technique_id, sub_technique_id, tactic, confidence)
    WHERE identity_uuid IS NOT NULL;
DROP INDEX ttp_tag_attacker;
CREATE INDEX ttp_tag_attacker ON ttp_tag (attacker_uuid, created_at, technique_id, sub_technique_id, tactic, confidence, identity_uuid);

-- +goose Down
DROP INDEX ttp_tag_identity;
CREATE INDEX ttp_tag_identity ON ttp_tag (identity_uuid, created_at, technique_id, sub_technique_id, tactic, confidence, uuid)
    WHERE identity_uuid IS NOT NULL;
DROP INDEX ttp_tag_attacker;
CREATE INDEX ttp_tag_attacker ON ttp_tag (attacker_uuid, created_at, technique_id, sub_technique_id, tactic, confidence, identity_uuid, uuid);
