package tests

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/internal/fleetgen"
	"github.com/ttpstore/ttpstore/migrations"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// Benchmark sizes and knobs, all optional environment variables:
//
//	TTP_BENCH_INGEST_LINES  lines in the ingest benchmarks (default 200000)
//	TTP_BENCH_SMALL         lines in the smaller query table (default 100000)
//	TTP_BENCH_LARGE         lines in the larger query table (default 1000000)
//	TTP_BENCH_BATCH         tags per InsertTags call (default 10000)
//	TTP_BENCH_SEED          generator seed (default 1)
//	TTP_BENCH_DIR           where SQLite query tables are kept between runs
//	                        (default $TMPDIR/ttpstore-bench)
//
// Query tables are built once per size and schema and reused: SQLite files
// under TTP_BENCH_DIR, MySQL databases named ttp_bench_<lines>_<schema>.
func benchEnv(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil && n > 0 {
			return n
		}
		panic(fmt.Sprintf("%s=%q: want a positive integer", name, v))
	}
	return def
}

func benchSeed() uint64 { return uint64(benchEnv("TTP_BENCH_SEED", 1)) }

// benchConfig is the generator setup for a stream of lines lines.
func benchConfig(tb testing.TB, lines int) fleetgen.Config {
	rules, err := fleetgen.LoadRules("../testdata/rules.json")
	must(tb, err)
	scale := max(1, (lines+fleetgen.LinesPerUnit/2)/fleetgen.LinesPerUnit)
	return fleetgen.Config{Scale: scale, Lines: lines, Seed: benchSeed(), Rules: rules}
}

// loadFleet upserts the generated fleet into s.
func loadFleet(tb testing.TB, s *ttprepo.Store, f *fleetgen.Fleet) {
	ctx := context.Background()
	for _, c := range f.Campaigns {
		must(tb, s.UpsertCampaign(ctx, c))
	}
	for _, i := range f.Identities {
		must(tb, s.UpsertIdentity(ctx, i))
	}
	for _, a := range f.Attackers {
		must(tb, s.UpsertAttacker(ctx, a))
	}
}

// nextBatch reads up to n lines of the stream and parses them.
func nextBatch(st *fleetgen.Stream, n int, raw [][]byte) ([][]byte, bool) {
	raw = raw[:0]
	for len(raw) < n {
		line, ok := st.Next()
		if !ok {
			break
		}
		raw = append(raw, append([]byte(nil), line...))
	}
	return raw, len(raw) > 0
}

func parseBatch(tb testing.TB, raw [][]byte, lineNo *int, tags []ttprepo.Tag) []ttprepo.Tag {
	tags = tags[:0]
	for _, line := range raw {
		*lineNo++
		t, err := ingest.ParseTagLine(*lineNo, line)
		if err != nil {
			tb.Fatal(err)
		}
		tags = append(tags, t)
	}
	return tags
}

// fillStore streams cfg's tags into s in batches.
func fillStore(tb testing.TB, s *ttprepo.Store, f *fleetgen.Fleet, cfg fleetgen.Config) int {
	st, err := fleetgen.NewStream(f, cfg)
	must(tb, err)
	batch := benchEnv("TTP_BENCH_BATCH", 10000)
	var (
		raw      [][]byte
		tags     []ttprepo.Tag
		lineNo   int
		inserted int
		ok       bool
	)
	for {
		raw, ok = nextBatch(st, batch, raw)
		if !ok {
			return inserted
		}
		tags = parseBatch(tb, raw, &lineNo, tags)
		n, err := s.InsertTags(context.Background(), tags)
		must(tb, err, "insert tags")
		inserted += n
	}
}

// schemaHash names the current migrations, so that a cached table built
// on an older schema is never reused.
func schemaHash(tb testing.TB) string {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	must(tb, err, "hash migrations")
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// benchTable is a populated store the query benchmarks share.
type benchTable struct {
	store *ttprepo.Store
	lines int
	// scopes holds, per scope kind, ids of scopes of typical size.
	scopes map[string][]string
}

var (
	benchTablesMu sync.Mutex
	benchTables   = map[string]*benchTable{}
)

// openBenchTable returns the store of backend name holding a generated
// stream of lines lines, building and caching it on first use.
func openBenchTable(b *testing.B, backend string, lines int) *benchTable {
	benchTablesMu.Lock()
	defer benchTablesMu.Unlock()
	key := fmt.Sprintf("%s/%d", backend, lines)
	if t, ok := benchTables[key]; ok {
		return t
	}
	ctx := context.Background()
	name := fmt.Sprintf("ttp_bench_%d_s%d_%s", lines, benchSeed(), schemaHash(b))
	var dsn string
	switch backend {
	case "sqlite":
		dir := os.Getenv("TTP_BENCH_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "ttpstore-bench")
		}
		must(b, os.MkdirAll(dir, 0o755))
		dsn = "sqlite:" + filepath.Join(dir, name+".db")
	case "mysql":
		dsn = benchMySQL(b, name)
	}
	s, _ := openBenchStoreKept(b, backend, dsn)

	// A finished build leaves a marker row; anything else is rebuilt
	// from empty.
	var done int
	s.DB().QueryRowContext(ctx, "SELECT count(*) FROM ttp_bench_done").Scan(&done)
	if done == 0 {
		b.Logf("building %s table of %d lines (cached for later runs)", backend, lines)
		start := time.Now()
		cfg := benchConfig(b, lines)
		f, err := fleetgen.NewFleet(cfg)
		must(b, err)
		loadFleet(b, s, f)
		n := fillStore(b, s, f, cfg)
		_, err = s.DB().ExecContext(ctx, "CREATE TABLE IF NOT EXISTS ttp_bench_done (n INTEGER)")
		must(b, err, "mark table built")
		_, err = s.DB().ExecContext(ctx, "INSERT INTO ttp_bench_done VALUES (1)")
		must(b, err, "mark table built")
		if backend == "sqlite" {
			_, err = s.DB().ExecContext(ctx, "ANALYZE")
			must(b, err, "analyze")
			// Move the build's WAL into the database file, as a store that
			// has run for a while has done, so that the first timed reads
			// do not depend on how much of the build the WAL still holds.
			_, err = s.DB().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		} else {
			_, err = s.DB().ExecContext(ctx, "ANALYZE TABLE ttp_tag, attackers, attacker_identities")
		}
		must(b, err, "analyze")
		b.Logf("built %s table: %d tags in %s", backend, n, time.Since(start).Round(time.Millisecond))
	}
	t := &benchTable{store: s, lines: lines, scopes: typicalScopes(b, s)}
	benchTables[key] = t
	return t
}

// openBenchStore opens and migrates a store like openStore, adding the
// SQLite pragmas of TTP_BENCH_SQLITE_PRAGMAS (comma-separated, such as
// "cache_size(-262144),temp_store(MEMORY)") to the ones Open sets, in
// place of any Open sets under the same name, so that their effect can be
// measured. The store is closed when tb ends.
func openBenchStore(tb testing.TB, backend, dsn string) *ttprepo.Store {
	s, closeAll := openBenchStoreKept(tb, backend, dsn)
	tb.Cleanup(closeAll)
	return s
}

// openBenchStoreKept is openBenchStore for a store that outlives tb, such
// as a query table shared by many benchmarks; closeAll closes it.
func openBenchStoreKept(tb testing.TB, backend, dsn string) (s *ttprepo.Store, closeAll func()) {
	ctx := context.Background()
	extra := os.Getenv("TTP_BENCH_SQLITE_PRAGMAS")
	if backend != "sqlite" || extra == "" {
		s, err := ttprepo.Open(ctx, dsn)
		must(tb, err, "open", dsn)
		_, err = s.Migrate(ctx)
		must(tb, err, "migrate")
		return s, func() { s.Close() }
	}
	db, err := sql.Open("sqlite", withPragmas(ttprepo.SQLiteDSN(strings.TrimPrefix(dsn, "sqlite:")), strings.Split(extra, ",")))
	must(tb, err)
	var cacheSize int64
	must(tb, db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cacheSize), "read cache_size")
	tb.Logf("sqlite pragmas %s: cache_size now %d", extra, cacheSize)
	// OpenDB leaves db to its caller, so closing is db.Close.
	s, err = ttprepo.OpenDB(db, ttprepo.SQLite)
	must(tb, err)
	_, err = s.Migrate(ctx)
	must(tb, err, "migrate")
	return s, func() { db.Close() }
}

// benchMySQL returns the DSN of a MySQL database kept between runs; it is
// created empty when missing.
func benchMySQL(b *testing.B, name string) string {
	cfg, err := mysql.ParseDSN(os.Getenv("TTP_TEST_MYSQL_DSN"))
	must(b, err, "TTP_TEST_MYSQL_DSN")
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	must(b, err)
	defer admin.Close()
	_, err = admin.Exec("CREATE DATABASE IF NOT EXISTS " + name + " CHARACTER SET utf8mb4")
	must(b, err, "create database", name)
	cfg.DBName = name
	return "mysql://" + cfg.FormatDSN()
}

// Scope sizes, counted the way the rollups count them (a tag matching an
// identity both ways once; a campaign's size approximated by the sum of
// its identities').
var scopeSizeSQL = map[string]string{
	"attacker": `SELECT attacker_uuid, count(*) FROM ttp_tag WHERE attacker_uuid IS NOT NULL GROUP BY attacker_uuid`,
	"session":  `SELECT session_id, count(*) FROM ttp_tag WHERE session_id IS NOT NULL GROUP BY session_id`,
	"identity": `SELECT s.id, count(*) FROM (
		SELECT identity_uuid AS id FROM ttp_tag WHERE identity_uuid IS NOT NULL
		UNION ALL
		SELECT a.identity_id AS id FROM ttp_tag t JOIN attackers a ON a.uuid = t.attacker_uuid
		WHERE a.identity_id IS NOT NULL AND (t.identity_uuid IS NULL OR t.identity_uuid <> a.identity_id)
	) s GROUP BY s.id`,
}

// typicalScopes picks, per scope kind, up to 200 scopes whose size is
// within a fifth of the median: the same typical size in every table,
// since the generator keeps scope sizes independent of the fleet's size.
func typicalScopes(b *testing.B, s *ttprepo.Store) map[string][]string {
	ctx := context.Background()
	out := map[string][]string{}
	sizes := map[string]map[string]int{}
	for kind, q := range scopeSizeSQL {
		rows, err := s.DB().QueryContext(ctx, q)
		must(b, err, "scope sizes", kind)
		m := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			must(b, rows.Scan(&id, &n))
			m[id] = n
		}
		must(b, rows.Err())
		rows.Close()
		sizes[kind] = m
	}
	// Campaigns: the sum of their identities' sizes.
	rows, err := s.DB().QueryContext(ctx, "SELECT uuid, campaign_id FROM attacker_identities WHERE campaign_id IS NOT NULL")
	must(b, err)
	camp := map[string]int{}
	for rows.Next() {
		var id, c string
		must(b, rows.Scan(&id, &c))
		camp[c] += sizes["identity"][id]
	}
	rows.Close()
	sizes["campaign"] = camp

	for kind, m := range sizes {
		all := make([]int, 0, len(m))
		for _, n := range m {
			all = append(all, n)
		}
		slices.Sort(all)
		if len(all) == 0 {
			b.Fatalf("no %s scopes", kind)
		}
		med := all[len(all)/2]
		var ids []string
		for id, n := range m {
			if n*5 >= med*4 && n*5 <= med*6 {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		if len(ids) > 200 {
			ids = ids[:200]
		}
		out[kind] = ids
		out[kind+"/median"] = []string{strconv.Itoa(med)}
	}
	return out
}

// latencies collects per-operation durations and reports their median
// and 99th percentile in microseconds.
type latencies []time.Duration

// quantile returns the p quantile of l in microseconds, sorting l.
func (l latencies) quantile(p float64) float64 {
	slices.Sort(l)
	i := min(int(p*float64(len(l))), len(l)-1)
	return float64(l[i].Nanoseconds()) / 1e3
}

func (l latencies) median() float64 { return l.quantile(0.5) }

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	b.ReportMetric(l.median(), "median-us")
	b.ReportMetric(l.quantile(0.99), "p99-us")
}

// withPragmas returns dsn with each of pragmas ("name(value)") in place of
// a pragma of the same name already in it. modernc.org/sqlite runs a
// DSN's pragmas sorted by their text (busy_timeout first), not in the
// order given, so of two with the same name the one whose value sorts
// last would win, not the one appended.
func withPragmas(dsn string, pragmas []string) string {
	path, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		panic(err)
	}
	name := func(p string) string { n, _, _ := strings.Cut(p, "("); return strings.TrimSpace(n) }
	kept := q["_pragma"]
	for _, p := range pragmas {
		kept = slices.DeleteFunc(kept, func(old string) bool { return name(old) == name(p) })
		kept = append(kept, p)
	}
	q["_pragma"] = kept
	return path + "?" + q.Encode()
}
