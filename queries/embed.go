// Package queries holds the SQL that sqlc compiles into db/sqlitedb and
// db/mysqldb, embedded for the few queries the facade runs itself because
// sqlc's generated code cannot stream their rows.
package queries

import "embed"

// FS holds sqlite/*.sql and mysql/*.sql.
//
//go:embed sqlite/*.sql mysql/*.sql
var FS embed.FS
