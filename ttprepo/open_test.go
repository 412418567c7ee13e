package ttprepo

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenGivesUpOnALockedFile: a SQLite file that stays locked ends Open
// after sqliteOpenWait in all, although each ping may wait out the busy
// timeout and the pings are retried.
func TestOpenGivesUpOnALockedFile(t *testing.T) {
	defer func(w time.Duration) { sqliteOpenWait = w }(sqliteOpenWait)
	sqliteOpenWait = 300 * time.Millisecond

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	holder, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"CREATE TABLE x (n INTEGER)", "BEGIN EXCLUSIVE", "INSERT INTO x VALUES (1)"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer conn.ExecContext(ctx, "COMMIT")

	start := time.Now()
	s, err := Open(ctx, "sqlite:"+path)
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a file held under an exclusive lock")
	}
	if !strings.Contains(err.Error(), "stayed locked") || took > 5*time.Second {
		t.Fatalf("Open returned after %v with %v; want it to give up after %v", took, err, sqliteOpenWait)
	}
}
