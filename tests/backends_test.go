package tests

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// backend is one database the suites run against.
type backend struct {
	name string
	// open returns the DSN of a fresh, empty database, removed when the
	// test ends.
	open func(t testing.TB) string
}

// backends lists SQLite, and MySQL when configured. With TTP_REQUIRE_MYSQL
// set, an absent MySQL configuration fails the test instead of leaving the
// leg out.
func backends(t testing.TB) []backend {
	out := []backend{{name: "sqlite", open: freshSQLite}}
	if mysqlServerDSN(t) != "" {
		out = append(out, backend{name: "mysql", open: freshMySQL})
	}
	return out
}

// mysqlServerDSN returns the MySQL server DSN from TTP_TEST_MYSQL_DSN, or
// "" when the MySQL leg is not configured.
func mysqlServerDSN(t testing.TB) string {
	dsn := os.Getenv("TTP_TEST_MYSQL_DSN")
	if dsn == "" && os.Getenv("TTP_REQUIRE_MYSQL") == "1" {
		t.Fatal("TTP_REQUIRE_MYSQL=1 but TTP_TEST_MYSQL_DSN is not set: the MySQL leg would be skipped")
	}
	return dsn
}

// forEachBackend runs fn as a subtest per backend, each on a fresh,
// migrated store.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *ttprepo.Store)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			fn(t, openStore(t, b.open(t)))
		})
	}
}

// openStore opens and migrates a store, closed when the test ends.
func openStore(t testing.TB, dsn string) *ttprepo.Store {
	t.Helper()
	ctx := context.Background()
	s, err := ttprepo.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func freshSQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "ttp.db")
}

// freshMySQL creates a database with a random name on the configured
// server and drops it when the test ends.
func freshMySQL(t testing.TB) string {
	t.Helper()
	serverDSN := mysqlServerDSN(t)
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		t.Fatalf("TTP_TEST_MYSQL_DSN: %v", err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	defer admin.Close()

	var b [6]byte
	rand.Read(b[:])
	name := "ttp_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database on %s (is MariaDB running?): %v", cfg.Addr, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return "mysql://" + cfg.FormatDSN()
}

// ptr returns a pointer to v, for optional fields.
func ptr[T any](v T) *T { return &v }

// must fails the test on err.
func must(t testing.TB, err error, what ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", strings.TrimSpace(fmt.Sprintln(what...)), err)
	}
}
