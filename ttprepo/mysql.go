package ttprepo

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ttpstore/ttpstore/db/mysqldb"
)

// MySQL error numbers the store tells apart.
const (
	mysqlErrLockWaitTimeout = 1205
	mysqlErrDeadlock        = 1213
	mysqlErrNoReferencedRow = 1452
)

type mysqlBackend struct {
	q *mysqldb.Queries
}

func newMySQLBackend(db mysqldb.DBTX) *mysqlBackend {
	return &mysqlBackend{q: mysqldb.New(db)}
}

// queries returns the generated queries bound to tx, or to the pool.
func (b *mysqlBackend) queries(tx *sql.Tx) *mysqldb.Queries {
	if tx == nil {
		return b.q
	}
	return b.q.WithTx(tx)
}

func (b *mysqlBackend) upsertCampaign(ctx context.Context, tx *sql.Tx, c Campaign) error {
	return b.queries(tx).UpsertCampaign(ctx, c.UUID)
}

func (b *mysqlBackend) upsertIdentity(ctx context.Context, tx *sql.Tx, i Identity) error {
	return b.queries(tx).UpsertIdentity(ctx, mysqldb.UpsertIdentityParams{Uuid: i.UUID, CampaignID: nullString(i.CampaignID)})
}

func (b *mysqlBackend) upsertAttacker(ctx context.Context, tx *sql.Tx, a Attacker) error {
	return b.queries(tx).UpsertAttacker(ctx, mysqldb.UpsertAttackerParams{Uuid: a.UUID, Ip: a.IP, IdentityID: nullString(a.IdentityID)})
}

// mysqlInsertBatch is how many rows one multi-row INSERT carries: 17
// placeholders a row stays far below MySQL's 65,535 per statement.
const mysqlInsertBatch = 500

// mysqlMaxStatementBytes bounds the tag data one INSERT carries. MySQL
// refuses a statement longer than max_allowed_packet (16 MiB by default on
// MariaDB, and it drops the connection rather than return an error), while
// SQLite takes any size; 500 tags with large evidence would then be stored
// by one backend and refused by the other. [MaxEvidenceLen] makes every
// single tag fit.
//
// optimize(mysql): read @@max_allowed_packet once per pool and size the
// statements from it.
const mysqlMaxStatementBytes = 4 << 20

// mysqlStatementEnd returns the end of the statement that starts at start
// in keep: at most mysqlInsertBatch tags and mysqlMaxStatementBytes of
// data, and always at least one tag. A tag's size is over-estimated as
// twice its text (escaping can double it) plus room for the other columns.
func mysqlStatementEnd(tags []Tag, keep []int, start int) int {
	size := 0
	last := min(start+mysqlInsertBatch, len(keep))
	for i := start; i < last; i++ {
		t := &tags[keep[i]]
		n := 256 + 2*(len(t.UUID)+len(t.SourceKind)+len(t.SourceID)+len(t.RuleID)+
			len(t.AttackRelease)+len(t.MitreURL)+len(t.Evidence)+
			len(deref(t.AttackerUUID))+len(deref(t.IdentityUUID))+len(deref(t.SessionID))+len(deref(t.DeckyID)))
		if size += n; size > mysqlMaxStatementBytes && i > start {
			return i
		}
	}
	return last
}

// insertTagColumns is the column list of the generated InsertTag, in order.
const insertTagColumns = `uuid, source_kind, source_id, attacker_uuid, identity_uuid, session_id,
    decky_id, tactic, technique_id, sub_technique_id, confidence, rule_id,
    rule_version, evidence, attack_release, mitre_url, created_at`

// insertTags writes multi-row INSERTs of up to mysqlInsertBatch rows
// (fewer when their data would pass mysqlMaxStatementBytes).
// sqlc cannot generate a VALUES list of variable length, so this one
// statement is built here; it keeps the generated InsertTag's columns and
// its ON DUPLICATE KEY UPDATE no-op, which skips stored ids (0 rows
// affected each) while a missing parent or an oversized value stays an
// error. One round trip per batch instead of one per row is what makes
// MySQL ingest fast.
//
// Also measured (BenchmarkIngest, 100,000 generated lines, MariaDB 10.11
// on 2 cores shared with other work, so noisy): one JSON-array parameter
// expanded by JSON_TABLE gave 11,000 to 24,000 lines/s against 23,000 to
// 31,000 for these multi-row VALUES; the server parses every row's JSON
// once per column path. LOAD DATA LOCAL INFILE cannot skip stored ids
// without IGNORE (which also turns errors into warnings, and LOCAL alone
// already does), so it needs a staging table of text columns and a second
// INSERT ... SELECT ... ON DUPLICATE KEY UPDATE. A prototype of that, 10,000
// lines a transaction, gave 34,619 lines/s against 32,017 for multi-row
// VALUES at 100,000 lines, but 5,383 against 18,134 at 1,000,000, with the
// server reading about 180 MB/s from disk (one vmstat sample; about 53 MB/s
// during a multi-row VALUES ingest). It was not kept.
func (b *mysqlBackend) insertTags(ctx context.Context, tx *sql.Tx, tags []Tag, keep []int, now time.Time) (int64, int, error) {
	var inserted int64
	args := make([]any, 0, mysqlInsertBatch*17)
	for start, end := 0, 0; start < len(keep); start = end {
		end = mysqlStatementEnd(tags, keep, start)
		args = args[:0]
		for _, k := range keep[start:end] {
			t := &tags[k]
			args = append(args,
				t.UUID, t.SourceKind, t.SourceID,
				nullString(t.AttackerUUID), nullString(t.IdentityUUID), nullString(t.SessionID),
				nullString(t.DeckyID), t.Tactic, t.TechniqueID,
				nullString(t.SubTechniqueID), t.Confidence, t.RuleID,
				t.RuleVersion, string(t.Evidence), t.AttackRelease,
				t.MitreURL, tagTime(t, now),
			)
		}
		res, err := tx.ExecContext(ctx, mysqlInsertSQL(end-start), args...)
		if err != nil {
			return inserted, start, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return inserted, start, err
		}
		inserted += n
	}
	return inserted, 0, nil
}

var mysqlInsertSQLCache = map[int]string{}

// mysqlInsertSQL returns the INSERT for n rows. The full-batch text is
// built once and reused; a short last batch is built on the spot.
func mysqlInsertSQL(n int) string {
	if s, ok := mysqlInsertSQLCache[n]; ok {
		return s
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO ttp_tag (" + insertTagColumns + ") VALUES ")
	row := "(?" + strings.Repeat(", ?", 16) + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
	}
	sb.WriteString(" ON DUPLICATE KEY UPDATE uuid = uuid")
	return sb.String()
}

func init() {
	mysqlInsertSQLCache[mysqlInsertBatch] = mysqlInsertSQL(mysqlInsertBatch)
}

func (b *mysqlBackend) attackerExists(ctx context.Context, id string) (bool, error) {
	return b.q.AttackerExists(ctx, id)
}

func (b *mysqlBackend) identityExists(ctx context.Context, id string) (bool, error) {
	return b.q.IdentityExists(ctx, id)
}

func (b *mysqlBackend) campaignExists(ctx context.Context, id string) (bool, error) {
	return b.q.CampaignExists(ctx, id)
}

func (b *mysqlBackend) countTags(ctx context.Context) (int64, error) { return b.q.CountTags(ctx) }

func mysqlNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func (b *mysqlBackend) isForeignKeyViolation(err error) bool {
	return mysqlNumber(err) == mysqlErrNoReferencedRow
}

func (b *mysqlBackend) isRetryable(err error) bool {
	n := mysqlNumber(err)
	return n == mysqlErrDeadlock || n == mysqlErrLockWaitTimeout
}

func mysqlRollup(tech string, sub sql.NullString, tactic string, count int64, first, last time.Time, conf float64) (TechniqueRollup, error) {
	return TechniqueRollup{
		TechniqueID: tech, SubTechniqueID: optString(sub), Tactic: tactic,
		Count: count, FirstSeen: first.UTC(), LastSeen: last.UTC(), ConfidenceMax: conf,
	}, nil
}

func (b *mysqlBackend) techniquesByIdentity(ctx context.Context, id string) ([]TechniqueRollup, error) {
	rows, err := b.q.ListTechniquesByIdentity(ctx, mysqldb.ListTechniquesByIdentityParams{IdentityUuid: sql.NullString{String: id, Valid: true}})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r mysqldb.ListTechniquesByIdentityRow) (TechniqueRollup, error) {
		return mysqlRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	})
}

func (b *mysqlBackend) techniquesByAttacker(ctx context.Context, id string) ([]TechniqueRollup, error) {
	rows, err := b.q.ListTechniquesByAttacker(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r mysqldb.ListTechniquesByAttackerRow) (TechniqueRollup, error) {
		return mysqlRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	})
}

func (b *mysqlBackend) techniquesBySession(ctx context.Context, id string) ([]TechniqueRollup, error) {
	rows, err := b.q.ListTechniquesBySession(ctx, sql.NullString{String: id, Valid: true})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r mysqldb.ListTechniquesBySessionRow) (TechniqueRollup, error) {
		return mysqlRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	})
}

func (b *mysqlBackend) techniquesByCampaign(ctx context.Context, id string) ([]CampaignTechnique, error) {
	rows, err := b.q.ListTechniquesByCampaign(ctx, mysqldb.ListTechniquesByCampaignParams{CampaignID: sql.NullString{String: id, Valid: true}})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r mysqldb.ListTechniquesByCampaignRow) (CampaignTechnique, error) {
		return CampaignTechnique{
			TechniqueID: r.TechniqueID, SubTechniqueID: optString(r.SubTechniqueID), Tactic: r.Tactic,
			Count: r.TagCount, IdentityCount: r.IdentityCount, LastSeen: r.LastSeen.UTC(),
		}, nil
	})
}

func (b *mysqlBackend) distinctTechniques(ctx context.Context) ([]FleetTechnique, error) {
	rows, err := b.q.ListDistinctTechniques(ctx)
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r mysqldb.ListDistinctTechniquesRow) (FleetTechnique, error) {
		return FleetTechnique{
			TechniqueID: r.TechniqueID, SubTechniqueID: optNonEmpty(r.SubTechniqueID), Tactic: r.Tactic,
			Count: r.TagCount, LastSeen: r.LastSeen.UTC(),
		}, nil
	})
}

func (b *mysqlBackend) deckyPhases(ctx context.Context, id string) ([]PhaseObservation, error) {
	rows, err := b.q.ListDeckyPhasesByIdentity(ctx, mysqldb.ListDeckyPhasesByIdentityParams{IdentityUuid: sql.NullString{String: id, Valid: true}})
	if err != nil {
		return nil, err
	}
	return convertRows(rows, func(r mysqldb.ListDeckyPhasesByIdentityRow) (PhaseObservation, error) {
		// The query keeps only tags with a decky, so DeckyID is set.
		return PhaseObservation{DeckyID: r.DeckyID.String, Tactic: r.Tactic, CreatedAt: r.CreatedAt.UTC(), TagUUID: r.Uuid}, nil
	})
}
