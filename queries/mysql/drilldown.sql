-- Drill-down: the raw tags behind one rollup row, newest first, one page
-- at a time. Pages are cut by keyset on (created_at, uuid): a page holds
-- the tags strictly before the cursor in (created_at DESC, uuid DESC)
-- order, so tags that arrive later (newer) never shift a page already
-- read. The first page passes a cursor later than any stored tag.
--
-- The cursor is written as a range the index can seek,
-- "created_at <= at AND (created_at < at OR uuid < id)", rather than the
-- plain OR of the two cases, which would force a walk from the newest tag.
--
-- sub_technique_id is compared with <=> (NULL-safe equality) so that a NULL argument selects
-- exactly the tags with no sub-technique, which is what the rollup row
-- with a NULL sub-technique counts.

-- name: ListAttackerTagsPage :many
-- Every tag of one attacker. Serves the ttp_tag_attacker index.
SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
    t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
    t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
FROM ttp_tag t
WHERE t.attacker_uuid = sqlc.arg(attacker_uuid)
  AND t.created_at <= sqlc.arg(before_at)
  AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
ORDER BY t.created_at DESC, t.uuid DESC
LIMIT ?;

-- name: ListAttackerTechniqueTagsPage :many
-- One technique of one attacker: ttp_tag_attacker, then a filter.
SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
    t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
    t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
FROM ttp_tag t
WHERE t.attacker_uuid = sqlc.arg(attacker_uuid)
  AND t.technique_id = sqlc.arg(technique_id)
  AND t.sub_technique_id <=> sqlc.narg(sub_technique_id)
  AND t.created_at <= sqlc.arg(before_at)
  AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
ORDER BY t.created_at DESC, t.uuid DESC
LIMIT ?;

-- name: ListSessionTechniqueTagsPage :many
-- One technique of one session: ttp_tag_session, then a filter.
SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
    t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
    t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
FROM ttp_tag t
WHERE t.session_id = sqlc.arg(session_id)
  AND t.technique_id = sqlc.arg(technique_id)
  AND t.sub_technique_id <=> sqlc.narg(sub_technique_id)
  AND t.created_at <= sqlc.arg(before_at)
  AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
ORDER BY t.created_at DESC, t.uuid DESC
LIMIT ?;

-- name: ListIdentityTechniqueTagsPage :many
-- One technique of an identity's scope, the same scope as
-- ListTechniquesByIdentity: the identity's own tags (ttp_tag_identity)
-- plus its attackers' tags (attackers_identity, then ttp_tag_attacker),
-- the second branch leaving out tags the first already has.
SELECT s.uuid, s.source_kind, s.source_id, s.attacker_uuid, s.identity_uuid, s.session_id,
    s.decky_id, s.tactic, s.technique_id, s.sub_technique_id, s.confidence, s.rule_id,
    s.rule_version, s.evidence, s.attack_release, s.mitre_url, s.created_at
FROM (
    SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
        t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
        t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
    FROM ttp_tag t
    WHERE t.identity_uuid = sqlc.arg(identity_uuid)
      AND t.technique_id = sqlc.arg(technique_id)
      AND t.sub_technique_id <=> sqlc.narg(sub_technique_id)
      AND t.created_at <= sqlc.arg(before_at)
      AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
    UNION ALL
    SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
        t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
        t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
    FROM attackers a
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE a.identity_id = sqlc.arg(identity_uuid)
      AND (t.identity_uuid IS NULL OR t.identity_uuid <> sqlc.arg(identity_uuid))
      AND t.technique_id = sqlc.arg(technique_id)
      AND t.sub_technique_id <=> sqlc.narg(sub_technique_id)
      AND t.created_at <= sqlc.arg(before_at)
      AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
) AS s
ORDER BY s.created_at DESC, s.uuid DESC
LIMIT ?;

-- name: ListCampaignTechniqueTagsPage :many
-- One technique of a campaign's scope, the union of its identities'
-- scopes with each tag once: tags anchored on a member identity, plus
-- tags of a member identity's attackers whose own identity (if any) is
-- not a member, so a tag reachable both ways is listed by the first
-- branch only.
SELECT s.uuid, s.source_kind, s.source_id, s.attacker_uuid, s.identity_uuid, s.session_id,
    s.decky_id, s.tactic, s.technique_id, s.sub_technique_id, s.confidence, s.rule_id,
    s.rule_version, s.evidence, s.attack_release, s.mitre_url, s.created_at
FROM (
    SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
        t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
        t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
    FROM attacker_identities i
    JOIN ttp_tag t ON t.identity_uuid = i.uuid
    WHERE i.campaign_id = sqlc.arg(campaign_id)
      AND t.technique_id = sqlc.arg(technique_id)
      AND t.sub_technique_id <=> sqlc.narg(sub_technique_id)
      AND t.created_at <= sqlc.arg(before_at)
      AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
    UNION ALL
    SELECT t.uuid, t.source_kind, t.source_id, t.attacker_uuid, t.identity_uuid, t.session_id,
        t.decky_id, t.tactic, t.technique_id, t.sub_technique_id, t.confidence, t.rule_id,
        t.rule_version, t.evidence, t.attack_release, t.mitre_url, t.created_at
    FROM attacker_identities i
    JOIN attackers a ON a.identity_id = i.uuid
    JOIN ttp_tag t ON t.attacker_uuid = a.uuid
    WHERE i.campaign_id = sqlc.arg(campaign_id)
      AND NOT EXISTS (
          SELECT 1 FROM attacker_identities m
          WHERE m.uuid = t.identity_uuid AND m.campaign_id = sqlc.arg(campaign_id))
      AND t.technique_id = sqlc.arg(technique_id)
      AND t.sub_technique_id <=> sqlc.narg(sub_technique_id)
      AND t.created_at <= sqlc.arg(before_at)
      AND (t.created_at < sqlc.arg(before_at) OR t.uuid < sqlc.arg(before_uuid))
) AS s
ORDER BY s.created_at DESC, s.uuid DESC
LIMIT ?;
