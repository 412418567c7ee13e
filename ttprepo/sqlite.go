package ttprepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ttpstore/ttpstore/db/sqlitedb"
)

// sqliteTimeLayout is how SQLite stores instants: fixed-width RFC 3339 in
// UTC with microseconds, so text order is time order. The schema's CHECK
// refuses any other shape.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

func formatSQLiteTime(t time.Time) string { return t.UTC().Format(sqliteTimeLayout) }

func parseSQLiteTime(s string) (time.Time, error) {
	t, err := time.Parse(sqliteTimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

type sqliteBackend struct {
	q *sqlitedb.Queries
}

func newSQLiteBackend(db sqlitedb.DBTX) *sqliteBackend {
	return &sqliteBackend{q: sqlitedb.New(db)}
}

// queries returns the generated queries bound to tx, or to the pool.
func (b *sqliteBackend) queries(tx *sql.Tx) *sqlitedb.Queries {
	if tx == nil {
		return b.q
	}
	return b.q.WithTx(tx)
}

func (b *sqliteBackend) upsertCampaign(ctx context.Context, tx *sql.Tx, c Campaign) error {
	return b.queries(tx).UpsertCampaign(ctx, c.UUID)
}

func (b *sqliteBackend) upsertIdentity(ctx context.Context, tx *sql.Tx, i Identity) error {
	return b.queries(tx).UpsertIdentity(ctx, sqlitedb.UpsertIdentityParams{Uuid: i.UUID, CampaignID: nullString(i.CampaignID)})
}

func (b *sqliteBackend) upsertAttacker(ctx context.Context, tx *sql.Tx, a Attacker) error {
	return b.queries(tx).UpsertAttacker(ctx, sqlitedb.UpsertAttackerParams{Uuid: a.UUID, Ip: a.IP, IdentityID: nullString(a.IdentityID)})
}

// insertTags runs the generated single-row InsertTag once per tag through
// a statement cache, so SQLite compiles the INSERT once per transaction
// rather than once per row.
//
// sqlc cannot generate a VALUES list of variable length, so the other way
// to send many rows in one statement is one JSON-array parameter expanded
// by json_each (a fixed query sqlc does generate). Measured with
// BenchmarkIngest (100,000 generated lines, batches of 10,000, the
// pragmas cache_size(-262144) and temp_store(MEMORY), 2 shared cores):
// single rows about 36,000 lines per CPU second, the JSON array about
// 24,000. The JSON path pays for rendering and re-parsing every row's
// array (json_each returns each element as text that ->> parses again),
// more than it saves in statement overhead; so single rows stay. Without
// temp_store(MEMORY) every row's statement journal (each insert may fire
// the stats trigger, so SQLite must be able to undo it alone) goes to a
// temporary file, which roughly halves the single-row rate.
func (b *sqliteBackend) insertTags(ctx context.Context, tx *sql.Tx, tags []Tag, keep []int, now time.Time) (int64, int, error) {
	cache := newStmtCache(tx)
	defer cache.close()
	q := sqlitedb.New(cache)

	var inserted int64
	for pos, k := range keep {
		t := &tags[k]
		n, err := q.InsertTag(ctx, sqlitedb.InsertTagParams{
			Uuid:           t.UUID,
			SourceKind:     t.SourceKind,
			SourceID:       t.SourceID,
			AttackerUuid:   nullString(t.AttackerUUID),
			IdentityUuid:   nullString(t.IdentityUUID),
			SessionID:      nullString(t.SessionID),
			DeckyID:        nullString(t.DeckyID),
			Tactic:         t.Tactic,
			TechniqueID:    t.TechniqueID,
			SubTechniqueID: nullString(t.SubTechniqueID),
			Confidence:     t.Confidence,
			RuleID:         t.RuleID,
			RuleVersion:    int64(t.RuleVersion),
			Evidence:       string(t.Evidence),
			AttackRelease:  t.AttackRelease,
			MitreUrl:       t.MitreURL,
			CreatedAt:      formatSQLiteTime(tagTime(t, now)),
		})
		if err != nil {
			return inserted, pos, err
		}
		inserted += n
	}
	return inserted, 0, nil
}

func (b *sqliteBackend) attackerExists(ctx context.Context, id string) (bool, error) {
	n, err := b.q.AttackerExists(ctx, id)
	return n, err
}

func (b *sqliteBackend) identityExists(ctx context.Context, id string) (bool, error) {
	n, err := b.q.IdentityExists(ctx, id)
	return n, err
}

func (b *sqliteBackend) campaignExists(ctx context.Context, id string) (bool, error) {
	return b.q.CampaignExists(ctx, id)
}

func (b *sqliteBackend) countTags(ctx context.Context) (int64, error) { return b.q.CountTags(ctx) }

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func (b *sqliteBackend) isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func (b *sqliteBackend) isRetryable(err error) bool { return isSQLiteBusy(err) }

// isSQLiteBusy reports SQLITE_BUSY and its extended codes.
func isSQLiteBusy(err error) bool { return sqliteCode(err)&0xff == sqlite3.SQLITE_BUSY }

// sqliteRollup converts one generated rollup row; the generated row types
// of the three scopes have the same fields.
func sqliteRollup(tech string, sub sql.NullString, tactic string, count int64, first, last string, conf float64) (TechniqueRollup, error) {
	f, err := parseSQLiteTime(first)
	if err != nil {
		return TechniqueRollup{}, err
	}
	l, err := parseSQLiteTime(last)
	if err != nil {
		return TechniqueRollup{}, err
	}
	return TechniqueRollup{
		TechniqueID: tech, SubTechniqueID: optString(sub), Tactic: tactic,
		Count: count, FirstSeen: f, LastSeen: l, ConfidenceMax: conf,
	}, nil
}

func (b *sqliteBackend) techniquesByIdentity(ctx context.Context, id string) ([]TechniqueRollup, error) {
	rows, err := b.q.ListTechniquesByIdentity(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r sqlitedb.ListTechniquesByIdentityRow) (TechniqueRollup, error) {
		return sqliteRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	})
}

func (b *sqliteBackend) techniquesByAttacker(ctx context.Context, id string) ([]TechniqueRollup, error) {
	rows, err := b.q.ListTechniquesByAttacker(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r sqlitedb.ListTechniquesByAttackerRow) (TechniqueRollup, error) {
		return sqliteRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	})
}

func (b *sqliteBackend) techniquesBySession(ctx context.Context, id string) ([]TechniqueRollup, error) {
	rows, err := b.q.ListTechniquesBySession(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r sqlitedb.ListTechniquesBySessionRow) (TechniqueRollup, error) {
		return sqliteRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	})
}

func (b *sqliteBackend) techniquesByCampaign(ctx context.Context, id string) ([]CampaignTechnique, error) {
	rows, err := b.q.ListTechniquesByCampaign(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r sqlitedb.ListTechniquesByCampaignRow) (CampaignTechnique, error) {
		last, err := parseSQLiteTime(r.LastSeen)
		return CampaignTechnique{
			TechniqueID: r.TechniqueID, SubTechniqueID: optString(r.SubTechniqueID), Tactic: r.Tactic,
			Count: r.TagCount, IdentityCount: r.IdentityCount, LastSeen: last,
		}, err
	})
}

func (b *sqliteBackend) distinctTechniques(ctx context.Context) ([]FleetTechnique, error) {
	rows, err := b.q.ListDistinctTechniques(ctx)
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r sqlitedb.ListDistinctTechniquesRow) (FleetTechnique, error) {
		last, err := parseSQLiteTime(r.LastSeen)
		return FleetTechnique{
			TechniqueID: r.TechniqueID, SubTechniqueID: optNonEmpty(r.SubTechniqueID), Tactic: r.Tactic,
			Count: r.TagCount, LastSeen: last,
		}, err
	})
}

func (b *sqliteBackend) deckyPhases(ctx context.Context, id string) ([]PhaseObservation, error) {
	rows, err := b.q.ListDeckyPhasesByIdentity(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r sqlitedb.ListDeckyPhasesByIdentityRow) (PhaseObservation, error) {
		at, err := parseSQLiteTime(r.CreatedAt)
		return PhaseObservation{DeckyID: r.DeckyID, Tactic: r.Tactic, CreatedAt: at, TagUUID: r.Uuid}, err
	})
}

// convertRows maps generated rows to domain rows, stopping at the first
// conversion error. It returns an empty, non-nil slice for no rows.
func convertRows[R, D any](rows []R, conv func(R) (D, error)) ([]D, error) {
	out := make([]D, 0, len(rows))
	for _, r := range rows {
		d, err := conv(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
