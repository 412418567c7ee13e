-- Reading one tag back.

-- name: GetTagByUUID :one
-- Every column of one tag, as stored, for callers that check what was
-- kept byte for byte.
SELECT uuid, source_kind, source_id, attacker_uuid, identity_uuid, session_id,
    decky_id, tactic, technique_id, sub_technique_id, confidence, rule_id,
    rule_version, evidence, attack_release, mitre_url, created_at
FROM ttp_tag
WHERE uuid = sqlc.arg(uuid);
