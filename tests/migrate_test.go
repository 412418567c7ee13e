package tests

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// latestVersion is the number of the newest migration in migrations/.
func latestVersion(t *testing.T, d ttprepo.Dialect) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "migrations", string(d), "*.sql"))
	must(t, err)
	var v int64
	for _, f := range files {
		var n int64
		if _, err := fmt.Sscanf(filepath.Base(f), "%05d_", &n); err == nil && n > v {
			v = n
		}
	}
	if v == 0 {
		t.Fatalf("no migrations found for %s", d)
	}
	return v
}

// schemaDump lists everything the migrations create, one line per table,
// column, index, constraint or trigger, sorted, leaving out goose's own
// table. withTriggerMode adds the SQL mode MySQL stored with each trigger.
func schemaDump(t *testing.T, s *ttprepo.Store, withTriggerMode bool) []string {
	t.Helper()
	var queries []string
	if s.Dialect() == ttprepo.SQLite {
		// sqlite_master holds the CREATE text of every table, index
		// (including the automatic ones) and trigger, CHECKs and foreign
		// keys included.
		queries = []string{
			`SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
			 WHERE name NOT LIKE 'goose%' AND tbl_name NOT LIKE 'goose%' AND name <> 'sqlite_sequence'`,
		}
	} else {
		mode := "''"
		if withTriggerMode {
			mode = "SQL_MODE"
		}
		queries = []string{
			`SELECT 'table', TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
			 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'goose_db_version'`,
			`SELECT 'column', TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE,
			        COALESCE(COLUMN_DEFAULT, '(none)'), COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, ''), EXTRA
			 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'goose_db_version'`,
			`SELECT 'index', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE
			 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'goose_db_version'`,
			`SELECT 'check', TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
			 FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()`,
			`SELECT 'fk', r.TABLE_NAME, r.CONSTRAINT_NAME, r.REFERENCED_TABLE_NAME, r.UPDATE_RULE, r.DELETE_RULE,
			        k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME
			 FROM information_schema.REFERENTIAL_CONSTRAINTS r
			 JOIN information_schema.KEY_COLUMN_USAGE k
			   ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
			 WHERE r.CONSTRAINT_SCHEMA = DATABASE()`,
			`SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT, ` + mode + `
			 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`,
		}
	}
	var out []string
	for _, q := range queries {
		rows, err := s.DB().Query(q)
		must(t, err, "schema query")
		cols, err := rows.Columns()
		must(t, err)
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = string(v)
			}
			out = append(out, strings.Join(parts, " | "))
		}
		must(t, rows.Err())
		rows.Close()
	}
	sort.Strings(out)
	return out
}

// diffLines reports the lines only one of two dumps has.
func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range s {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	for _, l := range got {
		if !w[l] {
			t.Errorf("%s: unexpected %s", what, l)
		}
	}
	for _, l := range want {
		if !g[l] {
			t.Errorf("%s: missing %s", what, l)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d lines, want %d", what, len(got), len(want))
	}
}

// openRaw opens a store without migrating it.
func openRaw(t *testing.T, dsn string) *ttprepo.Store {
	t.Helper()
	s, err := ttprepo.Open(context.Background(), dsn)
	must(t, err, "open", dsn)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMigrateUpDownUp checks that rolling every migration back and
// applying it again leaves the schema exactly as the first time, and that
// rolling back removes everything the migrations made.
func TestMigrateUpDownUp(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openRaw(t, b.open(t))
			latest := latestVersion(t, s.Dialect())
			empty := schemaDump(t, s, true)

			v, err := s.Migrate(ctx)
			must(t, err, "up")
			if v != latest {
				t.Fatalf("up reached %d, want %d", v, latest)
			}
			first := schemaDump(t, s, true)
			if len(first) < 10 {
				t.Fatalf("schema dump has only %d lines: %q", len(first), first)
			}
			fleet(t, s)
			_, err = s.InsertTags(ctx, goodBatch("updown", 3))
			must(t, err, "insert before down")

			// Down one step at a time, to nothing.
			for want := latest - 1; want >= 0; want-- {
				v, err := s.MigrateDown(ctx)
				must(t, err, "down to", want)
				if v != want {
					t.Fatalf("down reached %d, want %d", v, want)
				}
			}
			diffLines(t, "after every down", schemaDump(t, s, true), empty)
			if v, err := s.MigrateDown(ctx); err != nil || v != 0 {
				t.Errorf("down at version 0 = %d, %v; want 0, nil", v, err)
			}

			v, err = s.Migrate(ctx)
			must(t, err, "up again")
			if v != latest {
				t.Fatalf("up again reached %d, want %d", v, latest)
			}
			diffLines(t, "up, down, up", schemaDump(t, s, true), first)

			// The schema works: the stats triggers are back.
			_, err = s.InsertTags(ctx, goodBatch("updown", 3))
			if err == nil {
				t.Error("insert into the re-created schema with no fleet succeeded")
			}
			fleet(t, s)
			n, err := s.InsertTags(ctx, goodBatch("updown", 3))
			must(t, err, "insert after up")
			stats, err := s.ListDistinctTechniques(ctx)
			must(t, err)
			if n != 3 || len(stats) != 1 || stats[0].Count != 3 {
				t.Errorf("after up, down, up: inserted %d, stats %+v", n, stats)
			}
		})
	}
}

// buildGoose builds the goose CLI pinned in tools/go.mod.
func buildGoose(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goose")
	cmd := exec.Command("go", "build", "-modfile=tools/go.mod", "-o", bin, "github.com/pressly/goose/v3/cmd/goose")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build goose: %v\n%s", err, out)
	}
	return bin
}

// TestGooseCLIMigrations applies the migration folders with the pinned
// goose CLI, then checks that the library sees the same schema, has
// nothing left to apply, and answers the golden corpus on it.
func TestGooseCLIMigrations(t *testing.T) {
	goose := buildGoose(t)
	want := loadExpected(t)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.open(t)
			var driver, target string
			if b.name == "sqlite" {
				driver, target = "sqlite3", strings.TrimPrefix(dsn, "sqlite:")
			} else {
				cfg, err := mysql.ParseDSN(strings.TrimPrefix(dsn, "mysql://"))
				must(t, err)
				cfg.ParseTime = true
				driver, target = "mysql", cfg.FormatDSN()
			}
			cmd := exec.Command(goose, "-dir", filepath.Join("..", "migrations", b.name), driver, target, "up")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("goose up: %v\n%s", err, out)
			}

			s := openRaw(t, dsn)
			latest := latestVersion(t, s.Dialect())
			cli := schemaDump(t, s, false)
			v, err := s.Migrate(ctx)
			must(t, err, "library migrate after the CLI")
			if v != latest {
				t.Errorf("library sees version %d, want %d", v, latest)
			}
			diffLines(t, "library migrate after the CLI changed the schema", schemaDump(t, s, false), cli)

			// The same schema as the library's own migration.
			ref := openStore(t, b.open(t))
			diffLines(t, "CLI schema vs library schema", cli, schemaDump(t, ref, false))

			// The golden subset: counts and the fleet-wide rollup.
			tags := loadCorpus(t, s)
			n, err := s.InsertTags(ctx, tags)
			must(t, err, "insert corpus")
			if n != want.InsertedFirstPass {
				t.Errorf("inserted %d, want %d", n, want.InsertedFirstPass)
			}
			got, err := s.ListDistinctTechniques(ctx)
			must(t, err)
			compare(t, "distinct techniques", got, want.DistinctTechniques)
			for id, rows := range want.ByCampaign {
				got, err := s.ListTechniquesByCampaign(ctx, id)
				must(t, err)
				compare(t, "campaign "+id, got, rows)
			}
		})
	}
}

// migrateHelperEnv names the DSN a re-executed test binary migrates; see
// TestMigrateHelperProcess.
const migrateHelperEnv = "TTP_MIGRATE_HELPER_DSN"

// TestMigrateHelperProcess is not a test of its own: the concurrent
// migration test runs this binary again with migrateHelperEnv set, to
// migrate from a separate process.
func TestMigrateHelperProcess(t *testing.T) {
	dsn := os.Getenv(migrateHelperEnv)
	if dsn == "" {
		t.Skip("runs only as a helper process")
	}
	s, err := ttprepo.Open(context.Background(), dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(3)
	}
	s.Close()
}

// TestConcurrentMigrate migrates one fresh database from several stores in
// this process and from several other processes, all at once: every call
// succeeds, each migration is recorded once, and the schema is the one a
// single migration makes.
func TestConcurrentMigrate(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ref := schemaDump(t, openStore(t, b.open(t)), true)
			for round := range 3 {
				ctx := context.Background()
				dsn := b.open(t)
				const inProcess, processes = 6, 3
				stores := make([]*ttprepo.Store, inProcess)
				for i := range stores {
					stores[i] = openRaw(t, dsn)
				}
				latest := latestVersion(t, stores[0].Dialect())

				var wg sync.WaitGroup
				errs := make([]error, inProcess+processes)
				start := make(chan struct{})
				for i, s := range stores {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						v, err := s.Migrate(ctx)
						if err == nil && v != latest {
							err = fmt.Errorf("reached version %d, want %d", v, latest)
						}
						errs[i] = err
					}()
				}
				for p := range processes {
					cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateHelperProcess$", "-test.count=1")
					cmd.Env = append(os.Environ(), migrateHelperEnv+"="+dsn)
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if out, err := cmd.CombinedOutput(); err != nil {
							errs[inProcess+p] = fmt.Errorf("process: %v\n%s", err, out)
						}
					}()
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, migrator %d: %v", round, i, err)
					}
				}

				// goose records each applied version once; a second
				// application would add a second row.
				rows, err := stores[0].DB().Query("SELECT version_id, count(*) FROM goose_db_version WHERE is_applied GROUP BY version_id ORDER BY version_id")
				must(t, err, "versions")
				var seen []int64
				for rows.Next() {
					var v, n int64
					must(t, rows.Scan(&v, &n))
					if n != 1 {
						t.Errorf("round %d: version %d recorded %d times", round, v, n)
					}
					seen = append(seen, v)
				}
				rows.Close()
				if len(seen) != int(latest)+1 {
					t.Errorf("round %d: versions recorded %v, want 0..%d", round, seen, latest)
				}
				diffLines(t, fmt.Sprintf("round %d schema", round), schemaDump(t, stores[0], true), ref)
				fleet(t, stores[0])
				if _, err := stores[0].InsertTags(ctx, goodBatch("concurrent", 2)); err != nil {
					t.Errorf("round %d: insert after concurrent migration: %v", round, err)
				}
			}
		})
	}
}
