-- Fleet-scale export. sqlc compiles this file like the others, which
-- checks the SQL against the schema, but its database/sql code for :many
-- always collects every row into a slice (sqlc 1.31 has no iterator
-- output). The facade therefore runs the text of ExportAttackerTechniques
-- itself, from the embedded copy of this file, and streams rows.Next().
-- Keep the query free of parameters: it is run as written here.

-- name: ExportAttackerTechniques :many
-- Every attacker's technique rollup, the rows ListTechniquesByAttacker
-- gives for each attacker, ordered by attacker then technique.
SELECT
    CAST(t.attacker_uuid AS TEXT)    AS attacker_uuid,
    t.technique_id,
    t.sub_technique_id,
    CAST(max(t.tactic) AS TEXT)      AS tactic,
    count(*)                         AS tag_count,
    CAST(min(t.created_at) AS TEXT)  AS first_seen,
    CAST(max(t.created_at) AS TEXT)  AS last_seen,
    CAST(max(t.confidence) AS REAL)  AS confidence_max
FROM ttp_tag t
WHERE t.attacker_uuid IS NOT NULL
GROUP BY t.attacker_uuid, t.technique_id, t.sub_technique_id
ORDER BY t.attacker_uuid, t.technique_id, t.sub_technique_id;
