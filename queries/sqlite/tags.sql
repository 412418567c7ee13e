-- Writing and counting tags.

-- name: InsertTag :execrows
-- One row; an id already stored is skipped and reports 0 rows.
INSERT INTO ttp_tag (
    uuid, source_kind, source_id, attacker_uuid, identity_uuid, session_id,
    decky_id, tactic, technique_id, sub_technique_id, confidence, rule_id,
    rule_version, evidence, attack_release, mitre_url, created_at
) VALUES (
    sqlc.arg(uuid), sqlc.arg(source_kind), sqlc.arg(source_id),
    sqlc.narg(attacker_uuid), sqlc.narg(identity_uuid), sqlc.narg(session_id),
    sqlc.narg(decky_id), sqlc.arg(tactic), sqlc.arg(technique_id),
    sqlc.narg(sub_technique_id), sqlc.arg(confidence), sqlc.arg(rule_id),
    sqlc.arg(rule_version), sqlc.arg(evidence), sqlc.arg(attack_release),
    sqlc.arg(mitre_url), sqlc.arg(created_at)
)
ON CONFLICT (uuid) DO NOTHING;

-- name: CountTags :one
SELECT count(*) FROM ttp_tag;

-- name: TagExists :one
SELECT EXISTS (SELECT 1 FROM ttp_tag WHERE uuid = sqlc.arg(uuid)) AS found;
