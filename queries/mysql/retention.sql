-- Retention: tags older than a cutoff, optionally of one ATT&CK release.
-- Both walk the ttp_tag_created index from the oldest tag. The release
-- filter is NULL for "every release".

-- name: CountTagsBefore :one
SELECT count(*) AS tag_count
FROM ttp_tag t
WHERE t.created_at < sqlc.arg(cutoff)
  AND (t.attack_release = sqlc.narg(attack_release) OR sqlc.narg(attack_release) IS NULL);

-- name: DeleteTagsBeforeBatch :execrows
-- At most batch_size of the oldest matching tags, in one statement that
-- locks only the rows it deletes (and their index gaps) for a short
-- transaction.
DELETE FROM ttp_tag
WHERE created_at < sqlc.arg(cutoff)
  AND (attack_release = sqlc.narg(attack_release) OR sqlc.narg(attack_release) IS NULL)
ORDER BY created_at
LIMIT ?;
