package tests

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// countingConnector hands out connections that count the statements
// prepared and closed on them. Its connections offer the driver no direct
// query path, so every statement database/sql runs on them is prepared
// first: an unprepared query shows up as one prepare per call.
type countingConnector struct {
	connect  func(context.Context) (driver.Conn, error)
	drv      driver.Driver
	prepared atomic.Int64
	closed   atomic.Int64
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: c}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.drv }

type countingConn struct {
	driver.Conn
	n *countingConnector
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		s   driver.Stmt
		err error
	)
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else {
		s, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	c.n.prepared.Add(1)
	return &countingStmt{Stmt: s, n: c.n}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

type countingStmt struct {
	driver.Stmt
	n *countingConnector
}

func (s *countingStmt) Close() error {
	s.n.closed.Add(1)
	return s.Stmt.Close()
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// countingDB opens dsn (as returned by freshSQLite or freshMySQL, and
// already migrated) through a countingConnector, on a single connection
// so that every statement is prepared on the same one.
func countingDB(t *testing.T, dsn string) (*sql.DB, *countingConnector, ttprepo.Dialect) {
	t.Helper()
	c := &countingConnector{}
	dialect := ttprepo.SQLite
	if rest, ok := strings.CutPrefix(dsn, "mysql://"); ok {
		dialect = ttprepo.MySQL
		inner, err := ttprepo.MySQLConnector(rest)
		must(t, err)
		c.connect, c.drv = inner.Connect, inner.Driver()
	} else {
		path, _ := ttprepo.SQLitePath(dsn)
		d := &sqlite.Driver{}
		c.drv = d
		c.connect = func(context.Context) (driver.Conn, error) { return d.Open(ttprepo.SQLiteDSN(path)) }
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, c, dialect
}

// TestRollupsReuseStatements checks that the store prepares each rollup
// and drill-down query once and runs it again on the same statement, that
// the answers through those statements are the golden ones, and that
// Close releases them.
func TestRollupsReuseStatements(t *testing.T) {
	want := loadExpected(t)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.open(t)
			setup := openStore(t, dsn) // migrated, with the corpus
			_, err := setup.InsertTags(ctx, loadCorpus(t, setup))
			must(t, err)
			must(t, setup.Close())

			db, counts, dialect := countingDB(t, dsn)
			s, err := ttprepo.OpenDB(db, dialect)
			must(t, err)

			// page reads the first page of a rollup row's tags, which
			// holds all of them or a full page.
			page := func(what string, kind ttprepo.ScopeKind, id, technique string, sub *string, count int64) {
				p, err := s.ListTags(ctx, ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: kind, ID: id}, TechniqueID: technique, SubTechniqueID: sub})
				must(t, err)
				if want := min(count, ttprepo.DefaultTagPageSize); int64(len(p.Tags)) != want {
					t.Errorf("%s %s: first page has %d tags, want %d", what, technique, len(p.Tags), want)
				}
			}
			round := func(name string) {
				for id, rows := range want.ByIdentity {
					got, err := s.ListTechniquesByIdentity(ctx, id)
					must(t, err)
					compare(t, name+" identity "+id, got, rows)
					if len(rows) > 0 {
						page(name+" identity "+id, ttprepo.ScopeIdentity, id, rows[0].TechniqueID, rows[0].SubTechniqueID, rows[0].Count)
					}
				}
				for id, rows := range want.ByAttacker {
					got, err := s.ListTechniquesByAttacker(ctx, id)
					must(t, err)
					compare(t, name+" attacker "+id, got, rows)
					if len(rows) > 0 {
						page(name+" attacker "+id, ttprepo.ScopeAttacker, id, rows[0].TechniqueID, rows[0].SubTechniqueID, rows[0].Count)
					}
				}
				for id, rows := range want.BySession {
					got, err := s.ListTechniquesBySession(ctx, id)
					must(t, err)
					compare(t, name+" session "+id, got, rows)
					if len(rows) > 0 {
						page(name+" session "+id, ttprepo.ScopeSession, id, rows[0].TechniqueID, rows[0].SubTechniqueID, rows[0].Count)
					}
				}
				for id, rows := range want.ByCampaign {
					got, err := s.ListTechniquesByCampaign(ctx, id)
					must(t, err)
					compare(t, name+" campaign "+id, got, rows)
					if len(rows) > 0 {
						page(name+" campaign "+id, ttprepo.ScopeCampaign, id, rows[0].TechniqueID, rows[0].SubTechniqueID, rows[0].Count)
					}
				}
				for id, rows := range want.DeckyPhases {
					got, err := s.ListDeckyPhases(ctx, id)
					must(t, err)
					compare(t, name+" decky phases "+id, got, rows)
				}
				got, err := s.ListDistinctTechniques(ctx)
				must(t, err)
				compare(t, name+" distinct techniques", got, want.DistinctTechniques)
			}

			round("first")
			first := counts.prepared.Load()
			if first == 0 || first > 10 {
				t.Fatalf("first round prepared %d statements, want 1 to 10 (one per rollup and drill-down query)", first)
			}
			round("second")
			if again := counts.prepared.Load() - first; again != 0 {
				t.Errorf("second round prepared %d statements again, want 0", again)
			}

			must(t, s.Close())
			if open := counts.prepared.Load() - counts.closed.Load(); open != 0 {
				t.Errorf("after Close, %d prepared statements are still open", open)
			}
			// A store on a database the caller owns still answers after
			// Close, unprepared.
			round("after Close")
			if open := counts.prepared.Load() - counts.closed.Load(); open != 0 {
				t.Errorf("after Close, calls left %d prepared statements open", open)
			}
		})
	}
}
