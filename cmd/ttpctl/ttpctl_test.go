package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

const corpus = "../../testdata/fleet-small/"

// ttpctl runs the command in-process against dsn and returns its exit
// status, stdout and stderr.
func ttpctl(t *testing.T, dsn string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}
	code := run(context.Background(), append([]string{"--db", dsn}, args...), e)
	return code, out.String(), errOut.String()
}

// dsns returns a fresh SQLite DSN, and a fresh MariaDB database when
// TTP_TEST_MYSQL_DSN names a server.
func dsns(t *testing.T) map[string]func(t *testing.T) string {
	out := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "ttp.db") },
	}
	server := os.Getenv("TTP_TEST_MYSQL_DSN")
	if server == "" {
		return out
	}
	out["mysql"] = func(t *testing.T) string {
		cfg, err := mysql.ParseDSN(server)
		if err != nil {
			t.Fatalf("TTP_TEST_MYSQL_DSN: %v", err)
		}
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		var b [6]byte
		rand.Read(b[:])
		name := "ttp_test_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
			t.Fatalf("create database: %v", err)
		}
		t.Cleanup(func() {
			if admin, err := sql.Open("mysql", cfg.FormatDSN()); err == nil {
				admin.Exec("DROP DATABASE IF EXISTS " + name)
				admin.Close()
			}
		})
		cfg.DBName = name
		return "mysql://" + cfg.FormatDSN()
	}
	return out
}

type expectedFile struct {
	InsertedFirstPass  int64                                  `json:"inserted_first_pass"`
	ByIdentity         map[string][]ttprepo.TechniqueRollup   `json:"by_identity"`
	ByAttacker         map[string][]ttprepo.TechniqueRollup   `json:"by_attacker"`
	BySession          map[string][]ttprepo.TechniqueRollup   `json:"by_session"`
	ByCampaign         map[string][]ttprepo.CampaignTechnique `json:"by_campaign"`
	DistinctTechniques []ttprepo.FleetTechnique               `json:"distinct_techniques"`
}

func loadExpected(t *testing.T) expectedFile {
	raw, err := os.ReadFile(corpus + "expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expectedFile
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// decodeRows decodes a --json output strictly: an unknown field name
// fails, so the names must be those of expected.json.
func decodeRows[R any](t *testing.T, out string) []R {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var rows []R
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if rows == nil {
		t.Fatalf("output %q is not a JSON array", out)
	}
	return rows
}

// checkRollup runs "rollup KIND ID --json" and compares it with want,
// the times compared as instants.
func checkRollup[R any](t *testing.T, dsn, kind, id string, want []R) {
	t.Helper()
	code, out, errOut := ttpctl(t, dsn, "", "rollup", kind, id, "--json")
	if code != 0 {
		t.Fatalf("rollup %s %s: exit %d: %s", kind, id, code, errOut)
	}
	got := decodeRows[R](t, out)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rollup %s %s:\n got  %+v\n want %+v", kind, id, got, want)
	}
}

// TestIngestAndRollupsMatchExpected ingests fleet-small through ttpctl
// and checks the summary, a second run, and every rollup scope of
// expected.json through "--json".
func TestIngestAndRollupsMatchExpected(t *testing.T) {
	want := loadExpected(t)
	for name, fresh := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			dsn := fresh(t)

			// ingest migrates a fresh database itself.
			code, out, errOut := ttpctl(t, dsn, "", "ingest", "--json", "--fleet", corpus+"fleet.jsonl", corpus+"tags.jsonl")
			if code != 0 {
				t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
			}
			var rep struct {
				Fleet struct{ Summary ingest.FleetSummary }
				Tags  struct{ Summary ingest.Summary }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("ingest --json output %q: %v", out, err)
			}
			first := rep.Tags.Summary
			if first.Lines != 1656 || first.Inserted != want.InsertedFirstPass || first.Invalid != 0 || rep.Fleet.Summary.Lines != 108 {
				t.Errorf("first ingest summary %+v, fleet %+v", first, rep.Fleet.Summary)
			}

			// The second run, from stdin, inserts nothing and finds every
			// kept line already present.
			tags, err := os.ReadFile(corpus + "tags.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut = ttpctl(t, dsn, string(tags), "ingest", "-")
			if code != 0 {
				t.Fatalf("second ingest: exit %d\n%s%s", code, out, errOut)
			}
			kept := first.AlreadyPresent + first.Inserted
			for _, w := range []string{"INSERTED", "ALREADY PRESENT", "tags -"} {
				if !strings.Contains(out, w) {
					t.Errorf("second ingest output lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(out, " "+itoa(kept)+" ") || !strings.HasSuffix(strings.TrimSpace(strings.Split(out, "\n")[2]), " 0") {
				t.Errorf("second ingest should show %d already present and 0 inserted:\n%s", kept, out)
			}

			for id, rows := range want.ByIdentity {
				checkRollup(t, dsn, "identity", id, rows)
			}
			for id, rows := range want.ByAttacker {
				checkRollup(t, dsn, "attacker", id, rows)
			}
			for id, rows := range want.BySession {
				checkRollup(t, dsn, "session", id, rows)
			}
			for id, rows := range want.ByCampaign {
				checkRollup(t, dsn, "campaign", id, rows)
			}
			code, out, errOut = ttpctl(t, dsn, "", "techniques", "--json")
			if code != 0 {
				t.Fatalf("techniques: exit %d: %s", code, errOut)
			}
			if got := decodeRows[ttprepo.FleetTechnique](t, out); !reflect.DeepEqual(got, want.DistinctTechniques) {
				t.Errorf("techniques --json differs from expected.json")
			}
			if !strings.Contains(out, `"last_seen": "2026-`) || !strings.Contains(out, `Z"`) {
				t.Errorf("times are not RFC 3339 UTC: %.300s", out)
			}

			// An empty rollup is an empty array, not null; the table says
			// so in words. (An unknown identity, attacker or campaign is
			// an error: TestRollupTellsUnknownFromEmpty.)
			if code, out, _ := ttpctl(t, dsn, "", "rollup", "session", "no-such-session", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
				t.Errorf("empty rollup --json: exit %d, %q; want []", code, out)
			}
			if code, out, _ := ttpctl(t, dsn, "", "rollup", "session", "no-such-session"); code != 0 || !strings.Contains(out, "no techniques") {
				t.Errorf("empty rollup table: exit %d, %q", code, out)
			}
		})
	}
}

// TestIngestExitStatus checks that invalid lines are listed with their
// numbers after the summary, that the valid lines still land, and the
// exit statuses of ingest.
func TestIngestExitStatus(t *testing.T) {
	raw, err := os.ReadFile(corpus + "tags.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")[:10]
	bad := strings.Replace(lines[0], `"attacker_uuid": "`, `"attacker_uuid": "missing-`, 1)
	bad = strings.Replace(bad, `"uuid": "`, `"uuid": "other-`, 1) // not a replay of line 1
	input := lines[0] + "{oops\n" + bad + strings.Replace(lines[1], `"created_at": "2026`, `"created_at": "x2026`, 1) + strings.Join(lines[2:], "")
	path := filepath.Join(t.TempDir(), "tags.jsonl")
	if err := os.WriteFile(path, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}

	dsn := "sqlite:" + filepath.Join(t.TempDir(), "ttp.db")
	code, out, errOut := ttpctl(t, dsn, "", "ingest", "--fleet", corpus+"fleet.jsonl", path)
	if code != 1 {
		t.Errorf("ingest with 3 invalid lines: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"line 2: is not valid JSON", "line 3: attacker_uuid: attacker \"missing-", "line 4: created_at:"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errOut, "3 invalid lines") {
		t.Errorf("stderr %q does not give the count", errOut)
	}

	// The valid lines are stored all the same.
	s, err := ttprepo.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kept int64
	for i, l := range lines {
		if i == 1 {
			continue // made invalid above
		}
		tg, err := ingest.ParseTagLine(i+1, []byte(strings.TrimSpace(l)))
		if err != nil {
			t.Fatal(err)
		}
		if tg.Confidence >= ttprepo.ConfidenceFloor {
			kept++
		}
	}
	if n, err := s.CountTags(context.Background()); err != nil || n != kept {
		t.Errorf("stored %d, %v; want %d", n, err, kept)
	}

	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"ingest", "--fleet", corpus + "fleet.jsonl"}, 0},
		{[]string{"ingest"}, 2},
		{[]string{"ingest", "--batch", "0", path}, 2},
		{[]string{"ingest", "a", "b"}, 2},
		{[]string{"ingest", filepath.Join(t.TempDir(), "missing.jsonl")}, 1},
		{[]string{"rollup", "decky", "x"}, 2},
		{[]string{"rollup", "identity"}, 2},
		{[]string{"techniques", "extra"}, 2},
		{[]string{"migrate", "sideways"}, 2},
		{[]string{"no-such-command"}, 2},
	} {
		if code, out, errOut := ttpctl(t, dsn, "", c.args...); code != c.code {
			t.Errorf("ttpctl %v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errOut)
		}
	}
}

// TestMigrateCommand runs up, status, down and up again.
func TestMigrateCommand(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "ttp.db")
	code, out, errOut := ttpctl(t, dsn, "", "migrate", "up")
	if code != 0 || !strings.HasPrefix(out, "schema at version ") {
		t.Fatalf("migrate up: exit %d, %q %q", code, out, errOut)
	}
	top := strings.TrimSpace(strings.TrimPrefix(out, "schema at version "))
	if top == "0" {
		t.Fatalf("migrate up left version 0")
	}
	code, out, _ = ttpctl(t, dsn, "", "migrate", "status")
	if code != 0 || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
		t.Errorf("status after up: exit %d\n%s", code, out)
	}
	code, out, _ = ttpctl(t, dsn, "", "migrate", "down")
	if code != 0 || strings.Contains(out, "version "+top+"\n") {
		t.Errorf("migrate down: exit %d, %q", code, out)
	}
	code, out, _ = ttpctl(t, dsn, "", "migrate", "status")
	if code != 0 || !strings.Contains(out, "pending") {
		t.Errorf("status after down: exit %d\n%s", code, out)
	}
	code, out, _ = ttpctl(t, dsn, "", "migrate", "up")
	if code != 0 || out != "schema at version "+top+"\n" {
		t.Errorf("migrate up again: exit %d, %q", code, out)
	}
}

// TestDemo runs the demo into an explicit database and checks that it
// ingested the sample and toured each kind of rollup.
func TestDemo(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "demo.db")
	code, out, errOut := ttpctl(t, dsn, "", "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"database " + dsn, "1030", "$ ttpctl techniques", "$ ttpctl rollup identity ",
		"$ ttpctl rollup attacker ", "$ ttpctl rollup campaign ", "IDENTITIES"} {
		if !strings.Contains(out, w) {
			t.Errorf("demo output lacks %q", w)
		}
	}
	s, err := ttprepo.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.CountTags(context.Background()); err != nil || n != 1030 {
		t.Errorf("demo stored %d tags, %v; want 1030", n, err)
	}
}

// TestSampleIsTheCorpus keeps the embedded sample equal to the corpus it
// copies.
func TestSampleIsTheCorpus(t *testing.T) {
	for name, embedded := range map[string][]byte{"fleet.jsonl": sampleFleet, "tags.jsonl": sampleTags} {
		raw, err := os.ReadFile(corpus + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, embedded) {
			t.Errorf("sample/%s differs from testdata/fleet-small/%s", name, name)
		}
	}
}

// TestCommandHelpListsFlags: -h on a command prints its usage and its
// flags with their defaults, and exits 0.
func TestCommandHelpListsFlags(t *testing.T) {
	code, out, _ := ttpctl(t, "sqlite:"+t.TempDir()+"/h.db", "", "ingest", "--help")
	if code != 0 || !strings.Contains(out, "flags:") || !strings.Contains(out, "-batch") || !strings.Contains(out, "default 20000 on SQLite") {
		t.Errorf("ingest --help: exit %d, output %q; want the flags with their defaults, exit 0", code, out)
	}
}

// TestEmptyDBFlagIsRefused: --db "" (an unset variable in a script) is a
// usage error, not a quiet fall back to $TTP_DB or the default file.
func TestEmptyDBFlagIsRefused(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TTP_DB", "")
	code, _, errOut := ttpctl(t, "", "", "migrate", "up")
	if code != 2 || !strings.Contains(errOut, "--db is empty") {
		t.Fatalf("exit %d, stderr %q; want 2 and a word on the empty --db", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "ttpstore.db")); !os.IsNotExist(err) {
		t.Errorf("the default database was created: %v", err)
	}
}
