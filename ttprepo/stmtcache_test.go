package ttprepo

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testPreparedDB returns a preparedDB on a fresh SQLite file, closed when
// the test ends.
func testPreparedDB(t *testing.T) *preparedDB {
	t.Helper()
	db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "p.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newPreparedDB(db)
}

// TestPreparedDBFirstUseRace starts many calls of one query at once on a
// fresh preparedDB: every call must answer, and one statement must be
// kept (the others prepared meanwhile are closed, not leaked into the map).
func TestPreparedDBFirstUseRace(t *testing.T) {
	p := testPreparedDB(t)
	ctx := context.Background()

	const calls = 16
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got int
			if err := p.QueryRowContext(ctx, "SELECT ?1 + 1", i).Scan(&got); err != nil {
				errs <- err
			} else if got != i+1 {
				t.Errorf("call %d: got %d, want %d", i, got, i+1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(p.stmts); n != 1 {
		t.Errorf("%d statements kept for one query, want 1", n)
	}

	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	if n := len(p.stmts); n != 0 {
		t.Errorf("%d statements kept after close, want 0", n)
	}
	var got int
	if err := p.QueryRowContext(ctx, "SELECT ?1 + 1", 41).Scan(&got); err != nil || got != 42 {
		t.Errorf("after close: got %d, %v; want 42, nil (run unprepared)", got, err)
	}
	if n := len(p.stmts); n != 0 {
		t.Errorf("a call after close kept %d statements, want 0", n)
	}
}

// TestPreparedDBCloseDuringCall closes the cache between a call's acquire
// and its use of the statement, the window in which a concurrent Close
// used to hand the call a closed statement: the call must still run, and
// the statement must be closed once the call releases it.
func TestPreparedDBCloseDuringCall(t *testing.T) {
	p := testPreparedDB(t)
	ctx := context.Background()
	const query = "SELECT ?1 * 2"

	e := p.acquire(ctx, query)
	if e == nil {
		t.Fatal("acquire on an open cache returned no statement")
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := e.s.QueryRowContext(ctx, 21).Scan(&got); err != nil || got != 42 {
		t.Fatalf("call in progress across close: got %d, %v; want 42, nil", got, err)
	}
	p.release(e)
	if err := e.s.QueryRowContext(ctx, 21).Scan(&got); err == nil {
		t.Error("the statement still runs after its last user released it: it was not closed")
	}
	if e := p.acquire(ctx, query); e != nil {
		t.Error("acquire after close returned a statement; want nil (run unprepared)")
	}
	if err := p.QueryRowContext(ctx, query, 5).Scan(&got); err != nil || got != 10 {
		t.Errorf("after close: got %d, %v; want 10, nil", got, err)
	}
}

// TestPreparedDBPrepareFailsRunsUnprepared: a query that cannot be
// prepared is run as text, so the caller sees the database's own error,
// and nothing is cached for it.
func TestPreparedDBPrepareFailsRunsUnprepared(t *testing.T) {
	p := testPreparedDB(t)
	_, err := p.QueryContext(context.Background(), "SELECT * FROM no_such_table")
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("got %v, want the database's error naming no_such_table", err)
	}
	if n := len(p.stmts); n != 0 {
		t.Errorf("%d statements cached for a query that failed to prepare", n)
	}
}
