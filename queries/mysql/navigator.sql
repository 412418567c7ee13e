-- ATT&CK Navigator layers: per technique, sub-technique and ATT&CK
-- release, the tag count and first and last time seen in a scope. The
-- facade folds the releases together and keeps the greatest for the
-- layer's ATT&CK version. Scopes are those of rollups.sql.

-- name: NavigatorByIdentity :many
SELECT
    s.technique_id,
    s.sub_technique_id,
    s.attack_release,
    count(*)                         AS tag_count,
    CAST(min(s.created_at) AS DATETIME(6))  AS first_seen,
    CAST(max(s.created_at) AS DATETIME(6))  AS last_seen
FROM (
    SELECT t.technique_id, t.sub_technique_id, t.attack_release, t.created_at
    FROM ttp_tag t
    WHERE t.identity_uuid = sqlc.arg(identity_uuid)
    UNION ALL
    SELECT t.technique_id, t.sub_technique_id, t.attack_release, t.created_at
    FROM attackers a
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE a.identity_id = sqlc.arg(identity_uuid)
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> sqlc.arg(identity_uuid))
) AS s
GROUP BY s.technique_id, s.sub_technique_id, s.attack_release
ORDER BY s.technique_id, s.sub_technique_id, s.attack_release;

-- name: NavigatorByAttacker :many
SELECT
    t.technique_id,
    t.sub_technique_id,
    t.attack_release,
    count(*)                         AS tag_count,
    CAST(min(t.created_at) AS DATETIME(6))  AS first_seen,
    CAST(max(t.created_at) AS DATETIME(6))  AS last_seen
FROM ttp_tag t
WHERE t.attacker_uuid = sqlc.arg(attacker_uuid)
GROUP BY t.technique_id, t.sub_technique_id, t.attack_release
ORDER BY t.technique_id, t.sub_technique_id, t.attack_release;

-- name: NavigatorBySession :many
SELECT
    t.technique_id,
    t.sub_technique_id,
    t.attack_release,
    count(*)                         AS tag_count,
    CAST(min(t.created_at) AS DATETIME(6))  AS first_seen,
    CAST(max(t.created_at) AS DATETIME(6))  AS last_seen
FROM ttp_tag t
WHERE t.session_id = sqlc.arg(session_id)
GROUP BY t.technique_id, t.sub_technique_id, t.attack_release
ORDER BY t.technique_id, t.sub_technique_id, t.attack_release;

-- name: NavigatorByCampaign :many
-- Each tag of the campaign's scope once, as in
-- ListCampaignTechniqueTagsPage.
SELECT
    s.technique_id,
    s.sub_technique_id,
    s.attack_release,
    count(*)                         AS tag_count,
    CAST(min(s.created_at) AS DATETIME(6))  AS first_seen,
    CAST(max(s.created_at) AS DATETIME(6))  AS last_seen
FROM (
    SELECT t.technique_id, t.sub_technique_id, t.attack_release, t.created_at
    FROM attacker_identities i
    JOIN ttp_tag t ON t.identity_uuid = i.uuid
    WHERE i.campaign_id = sqlc.arg(campaign_id)
    UNION ALL
    SELECT t.technique_id, t.sub_technique_id, t.attack_release, t.created_at
    FROM attacker_identities i
    JOIN attackers a ON a.identity_id = i.uuid
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE i.campaign_id = sqlc.arg(campaign_id)
      AND NOT EXISTS (
          SELECT 1 FROM attacker_identities m
          WHERE m.uuid = t.identity_uuid AND m.campaign_id = sqlc.arg(campaign_id))
) AS s
GROUP BY s.technique_id, s.sub_technique_id, s.attack_release
ORDER BY s.technique_id, s.sub_technique_id, s.attack_release;

-- name: NavigatorFleet :many
-- The whole fleet. This one reads every tag: the stats table has no
-- first_seen and no release. A layer for the fleet is an occasional
-- export, not a dashboard query.
SELECT
    t.technique_id,
    t.sub_technique_id,
    t.attack_release,
    count(*)                         AS tag_count,
    CAST(min(t.created_at) AS DATETIME(6))  AS first_seen,
    CAST(max(t.created_at) AS DATETIME(6))  AS last_seen
FROM ttp_tag t
GROUP BY t.technique_id, t.sub_technique_id, t.attack_release
ORDER BY t.technique_id, t.sub_technique_id, t.attack_release;
