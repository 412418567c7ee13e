-- Retention: tags older than a cutoff, optionally of one ATT&CK release.
-- Both walk the ttp_tag_created index from the oldest tag. The release
-- filter is NULL for "every release".

-- name: CountTagsBefore :one
SELECT count(*) AS tag_count
FROM ttp_tag t
WHERE t.created_at < sqlc.arg(cutoff)
  AND (CAST(sqlc.narg(attack_release) AS TEXT) IS NULL
       OR t.attack_release = CAST(sqlc.narg(attack_release) AS TEXT));

-- name: DeleteTagsBeforeBatch :execrows
-- At most batch_size of the oldest matching tags. SQLite's DELETE takes no
-- LIMIT unless built with SQLITE_ENABLE_UPDATE_DELETE_LIMIT, so the batch
-- is chosen by a subquery on the primary key.
DELETE FROM ttp_tag
WHERE uuid IN (
    SELECT t.uuid
    FROM ttp_tag t
    WHERE t.created_at < sqlc.arg(cutoff)
      AND (CAST(sqlc.narg(attack_release) AS TEXT) IS NULL
           OR t.attack_release = CAST(sqlc.narg(attack_release) AS TEXT))
    ORDER BY t.created_at
    LIMIT sqlc.arg(batch_size)
);
