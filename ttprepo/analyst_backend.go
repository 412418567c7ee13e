package ttprepo

import (
	"context"
	"database/sql"
	"time"
)

// analystBackend is what each dialect adds for the analyst features
// (drill-down, export, navigator layers, retention); it is embedded in
// backend.
type analystBackend interface {
	// tagPage returns up to q.limit tags of q's scope that sort strictly
	// after q's cursor in (created_at DESC, uuid DESC) order, in that
	// order. It runs on db so that a query plan can be asked for the very
	// statement a page runs (see [Store.ExplainTags]).
	tagPage(ctx context.Context, db dbtx, q tagPageQuery) ([]Tag, error)

	// exportSQL is the text of ExportAttackerTechniques, run by the
	// store row by row; scanExport reads one of its rows.
	exportSQL() string
	scanExport(rows *sql.Rows) (AttackerTechnique, error)

	// navigatorRows counts a scope's tags per technique, sub-technique
	// and ATT&CK release; the zero Scope is the whole fleet.
	navigatorRows(ctx context.Context, scope Scope) ([]navigatorRow, error)

	// countTagsBefore counts the tags created before cutoff, of release
	// only unless it is nil; deleteTagsBefore deletes at most batch of
	// the oldest of them inside tx and says how many it deleted.
	countTagsBefore(ctx context.Context, cutoff time.Time, release *string) (int64, error)
	deleteTagsBefore(ctx context.Context, tx *sql.Tx, cutoff time.Time, release *string, batch int) (int64, error)

	// explainPrefix turns a query into a request for its plan.
	explainPrefix() string
}

// dbtx is what generated queries run on: *sql.DB, *sql.Tx, or a wrapper.
// It has the method set of the DBTX interfaces of both db/ packages.
type dbtx interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

// tagPageQuery is a checked [TagQuery] with its cursor decoded.
type tagPageQuery struct {
	scope      Scope
	technique  string // "" only for every tag of an attacker
	sub        *string
	beforeAt   time.Time
	beforeUUID string
	limit      int
}

// navigatorRow is one (technique, sub-technique, release) group of a
// scope.
type navigatorRow struct {
	techniqueID string
	subID       *string
	release     string
	count       int64
	firstSeen   time.Time
	lastSeen    time.Time
}
