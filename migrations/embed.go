// Package migrations holds the goose schema migrations for each dialect,
// as plain SQL files that the goose CLI applies by hand and that the
// library embeds and applies through [FS].
package migrations

import "embed"

// FS holds sqlite/*.sql and mysql/*.sql.
//
//go:embed sqlite/*.sql mysql/*.sql
var FS embed.FS
