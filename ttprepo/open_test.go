package ttprepo

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lockedSQLiteFile returns the path of a rollback-journal SQLite file that
// another connection holds under an exclusive lock until the test ends:
// switching it to WAL, as Open does, has to wait for the lock.
func lockedSQLiteFile(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	holder, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.ExecContext(ctx, "COMMIT")
		conn.Close()
		holder.Close()
	})
	for _, q := range []string{"CREATE TABLE x (n INTEGER)", "BEGIN EXCLUSIVE", "INSERT INTO x VALUES (1)"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

// TestOpenGivesUpOnALockedFile: a SQLite file that stays locked ends Open
// after sqliteOpenWait in all, although each ping may wait out the busy
// timeout and the pings are retried.
func TestOpenGivesUpOnALockedFile(t *testing.T) {
	defer func(w time.Duration) { sqliteOpenWait = w }(sqliteOpenWait)
	sqliteOpenWait = 300 * time.Millisecond
	path := lockedSQLiteFile(t)

	start := time.Now()
	s, err := Open(context.Background(), "sqlite:"+path)
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a file held under an exclusive lock")
	}
	if !strings.Contains(err.Error(), "stayed locked") || took > 5*time.Second {
		t.Fatalf("Open returned after %v with %v; want it to give up after %v", took, err, sqliteOpenWait)
	}
}

// TestOpenStopsWaitingWhenCancelled: while another connection holds a
// SQLite file locked, Open waits in SQLite's busy handler, which does not
// watch the context; a context that ends must still end Open at once.
func TestOpenStopsWaitingWhenCancelled(t *testing.T) {
	path := lockedSQLiteFile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := Open(ctx, "sqlite:"+path)
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a file held under an exclusive lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Fatalf("Open returned after %v with %v; want the context's deadline, at once", took, err)
	}
}
