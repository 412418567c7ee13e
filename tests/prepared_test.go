package tests

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	// closing counts the statements whose Close has begun; while gate is
	// not nil, each Close waits for gate to be closed.
	closing atomic.Int64
	gate    chan struct{}
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: c}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.drv }

// open is the number of statements prepared and not closed.
func (c *countingConnector) open() int64 { return c.prepared.Load() - c.closed.Load() }

// gcUntil collects garbage, letting cleanups run, until done reports true
// or within has passed, and returns done's last answer.
func gcUntil(within time.Duration, done func() bool) bool {
	deadline := time.Now().Add(within)
	for !done() {
		if time.Now().After(deadline) {
			return done()
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

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
	s.n.closing.Add(1)
	if s.n.gate != nil {
		<-s.n.gate
	}
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
// already migrated) through a countingConnector, on at most conns
// connections (1: every statement is prepared on the same one).
func countingDB(t *testing.T, dsn string, conns int) (*sql.DB, *countingConnector, ttprepo.Dialect) {
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
	db.SetMaxOpenConns(conns)
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

			db, counts, dialect := countingDB(t, dsn, 1)
			s, err := ttprepo.OpenDB(db, dialect)
			must(t, err)

			// One drill-down per scope: the first page of the tags behind
			// the scope's first rollup row, which holds all of them or a
			// full page.
			type pageCheck struct {
				q     ttprepo.TagQuery
				count int64 // the rollup row's tag count
			}
			var pages []pageCheck
			add := func(kind ttprepo.ScopeKind, id, technique string, sub *string, count int64) {
				q := ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: kind, ID: id}, TechniqueID: technique, SubTechniqueID: sub}
				pages = append(pages, pageCheck{q, count})
			}
			for kind, byScope := range map[ttprepo.ScopeKind]map[string][]ttprepo.TechniqueRollup{
				ttprepo.ScopeIdentity: want.ByIdentity, ttprepo.ScopeAttacker: want.ByAttacker, ttprepo.ScopeSession: want.BySession,
			} {
				for id, rows := range byScope {
					if len(rows) > 0 {
						add(kind, id, rows[0].TechniqueID, rows[0].SubTechniqueID, rows[0].Count)
					}
				}
			}
			for id, rows := range want.ByCampaign {
				if len(rows) > 0 {
					add(ttprepo.ScopeCampaign, id, rows[0].TechniqueID, rows[0].SubTechniqueID, rows[0].Count)
				}
			}
			round := func(name string) {
				checkGolden(t, s, want, name+" ")
				for _, pc := range pages {
					p, err := s.ListTags(ctx, pc.q)
					must(t, err)
					if want := min(pc.count, ttprepo.DefaultTagPageSize); int64(len(p.Tags)) != want {
						t.Errorf("%s %s %s %s: first page has %d tags, want %d", name, pc.q.Scope.Kind, pc.q.Scope.ID, pc.q.TechniqueID, len(p.Tags), want)
					}
				}
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
			if open := counts.open(); open != 0 {
				t.Errorf("after Close, %d prepared statements are still open", open)
			}
			// A store on a database the caller owns still answers after
			// Close, unprepared.
			round("after Close")
			if open := counts.open(); open != 0 {
				t.Errorf("after Close, calls left %d prepared statements open", open)
			}
		})
	}
}

// forEachCountingDB runs fn per backend on a fresh, migrated database
// opened through a countingConnector with at most conns connections.
func forEachCountingDB(t *testing.T, conns int, fn func(t *testing.T, db *sql.DB, counts *countingConnector, dialect ttprepo.Dialect)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.open(t)
			openStore(t, dsn)
			db, counts, dialect := countingDB(t, dsn, conns)
			fn(t, db, counts, dialect)
		})
	}
}

// TestCloseWhileCallsRun closes stores from OpenDB while other goroutines
// are calling them: every call must answer, and once all calls are over
// no statement may be left open (a statement in use when Close runs is
// closed by the last call on it). A call once could be handed a statement
// Close had just closed ("sql: statement is closed"), about one store in
// 1,500 here; too rare to catch in a test this short, that window is
// checked step by step by ttprepo's TestPreparedDBCloseDuringCall.
func TestCloseWhileCallsRun(t *testing.T) {
	forEachCountingDB(t, 4, func(t *testing.T, db *sql.DB, counts *countingConnector, dialect ttprepo.Dialect) {
		ctx := context.Background()
		var failures atomic.Int64
		for i := range 200 {
			s, err := ttprepo.OpenDB(db, dialect)
			must(t, err)
			_, err = s.CountTags(ctx) // prepared before the race starts
			must(t, err)
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						if _, err := s.CountTags(ctx); err != nil {
							failures.Add(1)
							t.Errorf("store %d: count during Close: %v", i, err)
						}
						if _, err := s.ListTechniquesByAttacker(ctx, "a1"); err != nil {
							failures.Add(1)
							t.Errorf("store %d: rollup during Close: %v", i, err)
						}
					}
				}()
			}
			time.Sleep(time.Duration(i%5) * 50 * time.Microsecond)
			must(t, s.Close())
			wg.Wait()
			if failures.Load() > 5 {
				t.Fatal("too many failures; stopping")
			}
		}
		if open := counts.open(); open != 0 {
			t.Errorf("%d prepared statements left open after every store was closed", open)
		}
	})
}

// TestDroppedStoreReleasesStatements drops stores from OpenDB without
// Close, as a caller that makes one per request might: their prepared
// statements must be released once the stores are garbage collected,
// not held until the database closes.
func TestDroppedStoreReleasesStatements(t *testing.T) {
	forEachCountingDB(t, 2, func(t *testing.T, db *sql.DB, counts *countingConnector, dialect ttprepo.Dialect) {
		ctx := context.Background()
		for range 20 {
			func() {
				s, err := ttprepo.OpenDB(db, dialect)
				must(t, err)
				_, err = s.CountTags(ctx)
				must(t, err)
				_, err = s.ListDistinctTechniques(ctx)
				must(t, err)
				_, err = s.ListTechniquesByIdentity(ctx, "i1")
				must(t, err)
			}()
		}
		if counts.prepared.Load() < 20 {
			t.Fatalf("%d statements prepared by 20 stores, want at least 20", counts.prepared.Load())
		}
		if !gcUntil(10*time.Second, func() bool { return counts.open() == 0 }) {
			t.Fatalf("%d of %d prepared statements still open 10 s after their stores were dropped",
				counts.open(), counts.prepared.Load())
		}
	})
}

// TestDroppedStoreCleanupDoesNotBlock: closing a dropped store's
// statements can wait, for as long as a query runs on the connection a
// statement lives on. That wait must not hold up the program's other
// cleanups, which all run on one runtime goroutine (it did: an unrelated
// cleanup waited for a 4 s query on another store's connection).
func TestDroppedStoreCleanupDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	dsn := freshSQLite(t)
	openStore(t, dsn)
	db, counts, dialect := countingDB(t, dsn, 1)
	gate := make(chan struct{})
	counts.gate = gate
	var opened sync.Once
	release := func() { opened.Do(func() { close(gate) }) }
	t.Cleanup(release) // before db.Close, which closes statements too

	func() {
		s, err := ttprepo.OpenDB(db, dialect)
		must(t, err)
		_, err = s.CountTags(ctx)
		must(t, err)
	}()
	// Wait until the dropped store's cleanup is stuck closing its
	// statement.
	if !gcUntil(10*time.Second, func() bool { return counts.closing.Load() > 0 }) {
		t.Fatal("the dropped store's statement was never closed")
	}

	ran := make(chan struct{})
	other := new([64]byte)
	runtime.AddCleanup(other, func(ch chan struct{}) { close(ch) }, ran)
	other = nil
	hasRun := func() bool {
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
	if !gcUntil(5*time.Second, hasRun) {
		t.Fatal("an unrelated cleanup did not run within 5 s while a dropped store's statement was closing")
	}

	release()
	if !gcUntil(5*time.Second, func() bool { return counts.open() == 0 }) {
		t.Fatalf("%d statements still open once closing could go on", counts.open())
	}
}

// TestCallDuringSlowCloseDoesNotWait: Close waits to close a statement
// whose connection is running a query (here an insert waiting for a
// write lock another handle holds). A call made meanwhile must not wait
// with it: it runs, unprepared, on another connection. It used to wait
// for Close, which kept the cache locked while it closed statements.
func TestCallDuringSlowCloseDoesNotWait(t *testing.T) {
	ctx := context.Background()
	dsn := freshSQLite(t)
	openStore(t, dsn)
	db, counts, dialect := countingDB(t, dsn, 1)
	s, err := ttprepo.OpenDB(db, dialect)
	must(t, err)
	_, err = s.CountTags(ctx) // prepared on the pool's one connection
	must(t, err)
	db.SetMaxOpenConns(2)

	path, _ := ttprepo.SQLitePath(dsn)
	other, err := sql.Open("sqlite", ttprepo.SQLiteDSN(path))
	must(t, err)
	defer other.Close()
	lock, err := other.BeginTx(ctx, nil)
	must(t, err)
	defer lock.Rollback()
	_, err = lock.ExecContext(ctx, "INSERT INTO campaigns (uuid) VALUES ('holds-the-write-lock')")
	must(t, err)

	// The pool's idle connection, the one the statement lives on, now
	// waits for the write lock.
	inserted := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "INSERT INTO campaigns (uuid) VALUES ('waits')")
		inserted <- err
	}()
	time.Sleep(200 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while its statement's connection was busy; the test needs it to wait", err)
	default:
	}

	start := time.Now()
	_, err = s.CountTags(ctx)
	took := time.Since(start)
	must(t, err)
	if took > time.Second {
		t.Errorf("a call during Close took %v; want it to run at once on the free connection", took)
	}

	must(t, lock.Rollback())
	must(t, <-inserted)
	must(t, <-closed)
	if open := counts.open(); open != 0 {
		t.Errorf("%d prepared statements open after Close returned", open)
	}
}
