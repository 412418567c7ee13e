// Package ttprepo is the data layer for MITRE ATT&CK tags raised by a
// honeypot fleet: it validates tags, applies the confidence floor, writes
// them idempotently and answers scoped technique rollups, on an embedded
// SQLite database or on MySQL/MariaDB, with the same answers on both.
//
// The SQL lives in queries/<dialect>/ and is compiled by sqlc into the
// db/sqlitedb and db/mysqldb packages; this package picks the backend,
// converts between the generated row types and the domain types below,
// and says next to each hand-written statement which limit of sqlc forced
// it. It logs nothing: every outcome is a count or an error.
//
// Open a store with [Open] ("sqlite:PATH", a bare path, or "mysql://" and
// a go-sql-driver DSN) or [OpenDB], apply the schema with [Store.Migrate],
// then write with [Store.InsertTags] and read with the List methods.
package ttprepo
