package ttprepo

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
)

// TestPreparedDBFirstUseRace starts many calls of one query at once on a
// fresh preparedDB: every call must answer, and one statement must be
// kept (the others prepared meanwhile are closed, not leaked into the map).
func TestPreparedDBFirstUseRace(t *testing.T) {
	db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "p.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := newPreparedDB(db)
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
