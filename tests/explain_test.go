package tests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/internal/fleetgen"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// explainFiles are the query files whose every query that takes an
// argument must reach ttp_tag through an index; a file a dialect does not
// have is skipped.
var explainFiles = []string{"rollups.sql", "drilldown.sql", "navigator.sql", "retention.sql"}

// namedQuery is one "-- name:" block of a queries/ file.
type namedQuery struct {
	name string
	sql  string
}

var (
	nameLine = regexp.MustCompile(`(?m)^-- name: (\w+) `)
	// An argument: sqlc.arg(name), sqlc.narg(name), or a bare "?", which
	// sqlc's MySQL engine needs for LIMIT.
	sqlcArg  = regexp.MustCompile(`sqlc\.n?arg\((\w+)\)|\?`)
	tagAlias = regexp.MustCompile(`(?i)\bttp_tag\s+(?:AS\s+)?(\w+)`)
	// The fleet tables a scoped query reaches its tags through: a full
	// scan of one of these grows with the fleet just the same.
	fleetAlias = regexp.MustCompile(`(?i)\b(?:attackers|attacker_identities)\s+(?:AS\s+)?(\w+)`)
)

// readQueries splits a queries/ file into its named queries.
func readQueries(t *testing.T, path string) []namedQuery {
	raw, err := os.ReadFile(path)
	must(t, err)
	text := string(raw)
	locs := nameLine.FindAllStringSubmatchIndex(text, -1)
	var out []namedQuery
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		// Comment lines go: a "?" in one would count as a placeholder.
		var body []string
		for _, line := range strings.Split(text[loc[0]:end], "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				body = append(body, line)
			}
		}
		out = append(out, namedQuery{name: text[loc[2]:loc[3]], sql: strings.Join(body, "\n")})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no named queries", path)
	}
	return out
}

// TestScopedQueriesUseIndexes asks each database for the plan of every
// scoped rollup, on a table holding a generated fleet, and fails on a
// full scan of ttp_tag, attackers or attacker_identities: SQLite's "SCAN
// t" (with or without an index, which would still read every row),
// MySQL's access type ALL or index.
func TestScopedQueriesUseIndexes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		cfg := benchConfig(t, 4*fleetgen.LinesPerUnit)
		f, err := fleetgen.NewFleet(cfg)
		must(t, err)
		loadFleet(t, s, f)
		fillStore(t, s, f, cfg)
		if s.Dialect() == ttprepo.SQLite {
			_, err = s.DB().ExecContext(ctx, "ANALYZE")
		} else {
			_, err = s.DB().ExecContext(ctx, "ANALYZE TABLE ttp_tag, attackers, attacker_identities, campaigns")
		}
		must(t, err, "analyze")

		// A real id of each scope, so that the plans are those of a real
		// call.
		sample := map[string]string{}
		for arg, q := range map[string]string{
			"identity_uuid": "SELECT identity_uuid FROM ttp_tag WHERE identity_uuid IS NOT NULL LIMIT 1",
			"attacker_uuid": "SELECT attacker_uuid FROM ttp_tag WHERE attacker_uuid IS NOT NULL LIMIT 1",
			"session_id":    "SELECT session_id FROM ttp_tag WHERE session_id IS NOT NULL LIMIT 1",
			"campaign_id":   "SELECT campaign_id FROM attacker_identities WHERE campaign_id IS NOT NULL LIMIT 1",
		} {
			var v string
			must(t, s.DB().QueryRowContext(ctx, q).Scan(&v), "sample", arg)
			sample[arg] = v
		}

		// The check itself must be able to fail: a filter on an
		// unindexed column is a full scan on both databases.
		probe := "SELECT count(*) FROM ttp_tag t WHERE t.decky_id = ?"
		probeArgs := []any{"decky-01"}
		probeAliases := map[string]bool{"ttp_tag": true, "t": true}
		if s.Dialect() == ttprepo.SQLite {
			if len(sqliteFullScans(t, s.DB(), probe, probeArgs, probeAliases)) == 0 {
				t.Fatal("the plan check missed a full scan")
			}
		} else if len(mysqlFullScans(t, s.DB(), probe, probeArgs, probeAliases)) == 0 {
			t.Fatal("the plan check missed a full scan")
		}

		// Values for the other arguments: a page cursor mid-stream, a
		// retention cutoff a few hours after the oldest tag (a cutoff
		// halfway would rightly read half the table), a technique. Times
		// go in the dialect's stored form.
		var at, cutoff any = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
		if s.Dialect() == ttprepo.SQLite {
			at, cutoff = "2026-03-10T00:00:00.000000Z", "2026-03-01T06:00:00.000000Z"
		}
		other := map[string]any{
			"before_at": at, "cutoff": cutoff, "before_uuid": "ffffffff-ffff-5fff-bfff-ffffffffffff",
			"page_limit": 50, "batch_size": 500, "technique_id": "T1110",
			"sub_technique_id": nil, "attack_release": nil,
		}

		dir := "../queries/" + string(s.Dialect()) + "/"
		checked := 0
		for _, file := range explainFiles {
			if _, err := os.Stat(dir + file); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			for _, q := range readQueries(t, dir+file) {
				var args []any
				text := sqlcArg.ReplaceAllStringFunc(q.sql, func(m string) string {
					name := sqlcArg.FindStringSubmatch(m)[1]
					if m == "?" {
						args = append(args, 50)
					} else if v, ok := sample[name]; ok {
						args = append(args, v)
					} else if v, ok := other[name]; ok {
						args = append(args, v)
					} else {
						t.Fatalf("%s: no sample value for argument %s", q.name, name)
					}
					return "?"
				})
				aliases := map[string]bool{"ttp_tag": true, "attackers": true, "attacker_identities": true}
				for _, m := range tagAlias.FindAllStringSubmatch(text, -1) {
					aliases[strings.ToLower(m[1])] = true
				}
				for _, m := range fleetAlias.FindAllStringSubmatch(text, -1) {
					aliases[strings.ToLower(m[1])] = true
				}
				var scans []string
				if s.Dialect() == ttprepo.SQLite {
					scans = sqliteFullScans(t, s.DB(), text, args, aliases)
				} else {
					scans = mysqlFullScans(t, s.DB(), text, args, aliases)
				}
				if len(args) > 0 && len(scans) > 0 {
					t.Errorf("%s %s reads all of ttp_tag or of a fleet table: %s", file, q.name, strings.Join(scans, "; "))
				}
				// The fleet-wide rollup must not read the tag table at
				// all: it has its own summary table.
				if file == "rollups.sql" && len(args) == 0 && strings.Contains(strings.ToLower(text), "ttp_tag ") {
					t.Errorf("%s %s: fleet-wide query reads ttp_tag", file, q.name)
				}
				checked++
			}
		}
		if checked < 6 {
			t.Fatalf("checked %d queries, want at least 6", checked)
		}
	})
}

// sqliteFullScans returns the plan lines that scan a ttp_tag alias.
func sqliteFullScans(t *testing.T, db *sql.DB, query string, args []any, aliases map[string]bool) []string {
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	must(t, err, "explain")
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		must(t, rows.Scan(&id, &parent, &notUsed, &detail))
		f := strings.Fields(detail)
		if len(f) >= 2 && f[0] == "SCAN" && aliases[strings.ToLower(f[1])] {
			out = append(out, detail)
		}
	}
	must(t, rows.Err())
	return out
}

// mysqlFullScans returns the EXPLAIN rows on a ttp_tag alias whose
// access type reads the whole table or a whole index.
func mysqlFullScans(t *testing.T, db *sql.DB, query string, args []any, aliases map[string]bool) []string {
	rows, err := db.Query("EXPLAIN "+query, args...)
	must(t, err, "explain")
	defer rows.Close()
	cols, err := rows.Columns()
	must(t, err)
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...))
		row := map[string]string{}
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
		}
		if aliases[strings.ToLower(row["table"])] && (row["type"] == "ALL" || row["type"] == "index") {
			out = append(out, fmt.Sprintf("table %s type %s key %q", row["table"], row["type"], row["key"]))
		}
	}
	must(t, rows.Err())
	return out
}
