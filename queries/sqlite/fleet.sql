-- Campaigns, identities and attackers: the anchors a tag points at.

-- name: UpsertCampaign :exec
INSERT INTO campaigns (uuid) VALUES (sqlc.arg(uuid))
ON CONFLICT (uuid) DO NOTHING;

-- name: UpsertIdentity :exec
INSERT INTO attacker_identities (uuid, campaign_id)
VALUES (sqlc.arg(uuid), sqlc.narg(campaign_id))
ON CONFLICT (uuid) DO UPDATE SET campaign_id = excluded.campaign_id;

-- name: UpsertAttacker :exec
-- Moving an attacker to another identity is this same upsert.
INSERT INTO attackers (uuid, ip, identity_id)
VALUES (sqlc.arg(uuid), sqlc.arg(ip), sqlc.narg(identity_id))
ON CONFLICT (uuid) DO UPDATE SET ip = excluded.ip, identity_id = excluded.identity_id;

-- name: AttackerExists :one
SELECT EXISTS (SELECT 1 FROM attackers WHERE uuid = sqlc.arg(uuid)) AS found;

-- name: IdentityExists :one
SELECT EXISTS (SELECT 1 FROM attacker_identities WHERE uuid = sqlc.arg(uuid)) AS found;

-- name: CampaignExists :one
SELECT EXISTS (SELECT 1 FROM campaigns WHERE uuid = sqlc.arg(uuid)) AS found;
