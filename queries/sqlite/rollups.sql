-- Technique rollups for each scope. Rows are ordered by technique, then
-- sub-technique with NULL (none) first; tactic is the greatest tactic id
-- seen for the technique in scope. Aggregates are cast so that sqlc gives
-- them concrete Go types.

-- name: ListTechniquesByIdentity :many
-- The identity's scope is its own tags plus the tags of its attackers.
-- Two index seeks joined by UNION ALL instead of one OR across two
-- columns, which would scan the table; the second branch leaves out tags
-- the first already has, so a tag matching both ways counts once.
SELECT
    s.technique_id,
    s.sub_technique_id,
    CAST(max(s.tactic) AS TEXT)      AS tactic,
    count(*)                         AS tag_count,
    CAST(min(s.created_at) AS TEXT)  AS first_seen,
    CAST(max(s.created_at) AS TEXT)  AS last_seen,
    CAST(max(s.confidence) AS REAL)  AS confidence_max
FROM (
    SELECT t.technique_id, t.sub_technique_id, t.tactic, t.confidence, t.created_at
    FROM ttp_tag t
    WHERE t.identity_uuid = sqlc.arg(identity_uuid)
    UNION ALL
    SELECT t.technique_id, t.sub_technique_id, t.tactic, t.confidence, t.created_at
    FROM attackers a
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE a.identity_id = sqlc.arg(identity_uuid)
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> sqlc.arg(identity_uuid))
) AS s
GROUP BY s.technique_id, s.sub_technique_id
ORDER BY s.technique_id, s.sub_technique_id;

-- name: ListTechniquesByAttacker :many
SELECT
    t.technique_id,
    t.sub_technique_id,
    CAST(max(t.tactic) AS TEXT)      AS tactic,
    count(*)                         AS tag_count,
    CAST(min(t.created_at) AS TEXT)  AS first_seen,
    CAST(max(t.created_at) AS TEXT)  AS last_seen,
    CAST(max(t.confidence) AS REAL)  AS confidence_max
FROM ttp_tag t
WHERE t.attacker_uuid = sqlc.arg(attacker_uuid)
GROUP BY t.technique_id, t.sub_technique_id
ORDER BY t.technique_id, t.sub_technique_id;

-- name: ListTechniquesBySession :many
SELECT
    t.technique_id,
    t.sub_technique_id,
    CAST(max(t.tactic) AS TEXT)      AS tactic,
    count(*)                         AS tag_count,
    CAST(min(t.created_at) AS TEXT)  AS first_seen,
    CAST(max(t.created_at) AS TEXT)  AS last_seen,
    CAST(max(t.confidence) AS REAL)  AS confidence_max
FROM ttp_tag t
WHERE t.session_id = sqlc.arg(session_id)
GROUP BY t.technique_id, t.sub_technique_id
ORDER BY t.technique_id, t.sub_technique_id;

-- name: ListTechniquesByCampaign :many
-- The union of the member identities' scopes, as (identity, tag) pairs:
-- identity_count counts the identities showing a technique. A tag can
-- stand in two pairs: anchored on member identity X and on an attacker of
-- member identity Y. The first half of the union holds every tag anchored
-- on a member identity once; the second half marks a pair as counted only
-- when its tag's own identity is not a member (or is NULL), so sum(counted)
-- counts each tag once without a DISTINCT over tag ids.
SELECT
    s.technique_id,
    s.sub_technique_id,
    CAST(max(s.tactic) AS TEXT)          AS tactic,
    CAST(sum(s.counted) AS INTEGER)      AS tag_count,
    count(DISTINCT s.identity_uuid)      AS identity_count,
    CAST(max(s.created_at) AS TEXT)      AS last_seen
FROM (
    SELECT i.uuid AS identity_uuid, 1 AS counted,
           t.technique_id, t.sub_technique_id, t.tactic, t.created_at
    FROM attacker_identities i
    JOIN ttp_tag t ON t.identity_uuid = i.uuid
    WHERE i.campaign_id = sqlc.arg(campaign_id)
    UNION ALL
    SELECT i.uuid AS identity_uuid,
           CASE WHEN t.identity_uuid IN (SELECT m.uuid FROM attacker_identities m
                                         WHERE m.campaign_id = sqlc.arg(campaign_id))
                THEN 0 ELSE 1 END AS counted,
           t.technique_id, t.sub_technique_id, t.tactic, t.created_at
    FROM attacker_identities i
    JOIN attackers a ON a.identity_id = i.uuid
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE i.campaign_id = sqlc.arg(campaign_id)
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> i.uuid)
) AS s
GROUP BY s.technique_id, s.sub_technique_id
ORDER BY s.technique_id, s.sub_technique_id;

-- name: ListDistinctTechniques :many
-- Fleet wide, read from the trigger-maintained ttp_technique_stats table
-- (a few hundred rows) rather than the tag table. sub_technique_id comes
-- back as '' for none, which also sorts it first.
SELECT
    st.technique_id,
    st.sub_technique_id,
    CAST(max(st.tactic) AS TEXT)                  AS tactic,
    CAST(sum(st.tag_count) AS INTEGER)            AS tag_count,
    CAST(max(st.last_seen) AS TEXT)               AS last_seen
FROM ttp_technique_stats st
GROUP BY st.technique_id, st.sub_technique_id
ORDER BY st.technique_id, st.sub_technique_id;

-- name: ListDeckyPhasesByIdentity :many
-- Tactic observations per decky for kill-chain analysis, in time order,
-- ties broken by tag id. Tags with no decky are left out.
SELECT s.decky_id, s.tactic, s.created_at, s.uuid
FROM (
    SELECT t.uuid, CAST(t.decky_id AS TEXT) AS decky_id, t.tactic, t.created_at
    FROM ttp_tag t
    WHERE t.identity_uuid = sqlc.arg(identity_uuid) AND t.decky_id IS NOT NULL
    UNION ALL
    SELECT t.uuid, CAST(t.decky_id AS TEXT) AS decky_id, t.tactic, t.created_at
    FROM attackers a
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE a.identity_id = sqlc.arg(identity_uuid)
      AND t.decky_id IS NOT NULL
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> sqlc.arg(identity_uuid))
) AS s
ORDER BY s.created_at, s.uuid;
