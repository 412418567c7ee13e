package tests

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// rawColumns are ttp_tag's columns in the order rawTag lists their values.
var rawColumns = []string{
	"uuid", "source_kind", "source_id", "attacker_uuid", "identity_uuid", "session_id",
	"decky_id", "tactic", "technique_id", "sub_technique_id", "confidence", "rule_id",
	"rule_version", "evidence", "attack_release", "mitre_url", "created_at",
}

// rawTag returns the column values of a valid row, with created_at in the
// form each backend's column takes.
func rawTag(s *ttprepo.Store, uuid string) map[string]any {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var created any = at
	if s.Dialect() == ttprepo.SQLite {
		created = at.Format("2006-01-02T15:04:05.000000Z")
	}
	return map[string]any{
		"uuid": uuid, "source_kind": "session", "source_id": "src", "attacker_uuid": "a1",
		"identity_uuid": nil, "session_id": "s1", "decky_id": "d1", "tactic": "TA0006",
		"technique_id": "T1110", "sub_technique_id": nil, "confidence": 0.9, "rule_id": "R1",
		"rule_version": 1, "evidence": "{}", "attack_release": "15.1", "mitre_url": "",
		"created_at": created,
	}
}

// rawInsert writes one row with plain SQL through the store's own pool,
// bypassing the facade's checks.
func rawInsert(ctx context.Context, s *ttprepo.Store, row map[string]any) error {
	args := make([]any, len(rawColumns))
	for i, c := range rawColumns {
		args[i] = row[c]
	}
	q := "INSERT INTO ttp_tag (" + strings.Join(rawColumns, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(rawColumns)-1) + ")"
	_, err := s.DB().ExecContext(ctx, q, args...)
	return err
}

// TestDatabaseRefusesBadRows checks the schema itself, with the facade out
// of the way: a row the facade would refuse is refused by the database
// too, on both backends, and nothing is stored.
func TestDatabaseRefusesBadRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)

		// The unchanged row goes in: the refusals below are about the one
		// value each case changes.
		must(t, rawInsert(ctx, s, rawTag(s, "control")), "control row")

		long := func(n int) string { return strings.Repeat("x", n) }
		cases := []struct {
			name, column string
			value        any
		}{
			{"uuid too long", "uuid", long(ttprepo.MaxIDLen + 1)},
			{"uuid empty", "uuid", ""},
			{"source_kind too long", "source_kind", long(ttprepo.MaxIDLen + 1)},
			{"source_kind empty", "source_kind", ""},
			{"source_id too long", "source_id", long(ttprepo.MaxSourceIDLen + 1)},
			{"source_id too long in 4-byte chars", "source_id", strings.Repeat("😀", ttprepo.MaxSourceIDLen+1)},
			{"session_id too long", "session_id", long(ttprepo.MaxSessionIDLen + 1)},
			{"decky_id too long", "decky_id", long(ttprepo.MaxSessionIDLen + 1)},
			{"tactic too long", "tactic", long(ttprepo.MaxAttackIDLen + 1)},
			{"technique too long", "technique_id", long(ttprepo.MaxAttackIDLen + 1)},
			{"sub-technique too long", "sub_technique_id", long(ttprepo.MaxAttackIDLen + 1)},
			{"rule_id too long", "rule_id", long(ttprepo.MaxIDLen + 1)},
			{"rule_id empty", "rule_id", ""},
			{"attack_release too long", "attack_release", long(ttprepo.MaxAttackReleaseLen + 1)},
			{"mitre_url too long", "mitre_url", long(ttprepo.MaxMitreURLLen + 1)},
			{"no anchor", "attacker_uuid", nil},
			{"unknown attacker", "attacker_uuid", "nobody"},
			{"unknown identity", "identity_uuid", "nobody"},
			{"confidence above 1", "confidence", 1.5},
			{"confidence below 0", "confidence", -0.5},
			{"rule_version negative", "rule_version", -1},
			{"evidence array", "evidence", "[1]"},
			{"evidence not JSON", "evidence", "{oops"},
			{"evidence null", "evidence", nil},
			{"created_at null", "created_at", nil},
		}
		if s.Dialect() == ttprepo.SQLite {
			cases = append(cases,
				struct {
					name, column string
					value        any
				}{"created_at not fixed-width UTC", "created_at", "2026-03-01 12:00:00"},
				struct {
					name, column string
					value        any
				}{"created_at with offset", "created_at", "2026-03-01T12:00:00.000000+02:00"},
			)
		} else {
			cases = append(cases, struct {
				name, column string
				value        any
			}{"created_at not a time", "created_at", "yesterday"})
		}

		for i, tc := range cases {
			row := rawTag(s, "raw-"+strings.ReplaceAll(tc.name, " ", "-"))
			if len(row["uuid"].(string)) > ttprepo.MaxIDLen {
				row["uuid"] = "raw-" + string(rune('a'+i))
			}
			row[tc.column] = tc.value
			if err := rawInsert(ctx, s, row); err == nil {
				t.Errorf("%s: the database accepted %s = %.40v", tc.name, tc.column, tc.value)
			}
		}
		if n, err := s.CountTags(ctx); err != nil || n != 1 {
			t.Errorf("count after refused raw rows = %d, %v; want 1 (the control row)", n, err)
		}
	})
}

// TestMySQLSessionIsStrict checks every pooled MySQL session, not only the
// first: strict mode, utf8mb4, UTC, whatever the server defaults are and
// whatever the caller's DSN asks for.
func TestMySQLSessionIsStrict(t *testing.T) {
	if mysqlServerDSN(t) == "" {
		t.Skip("TTP_TEST_MYSQL_DSN not set")
	}
	ctx := context.Background()
	// The caller's DSN asks for a lax mode, another zone and a 3-byte
	// charset; the store must override all three.
	dsn := freshMySQL(t) + "&sql_mode=%27%27&time_zone=%27%2B05%3A00%27&charset=utf8"
	if !strings.Contains(dsn, "?") {
		dsn = strings.Replace(dsn, "&", "?", 1)
	}
	s := openStore(t, dsn)
	fleet(t, s)

	// Hold several connections at once so that the pool opens that many
	// sessions, then ask each of them.
	var conns []*sql.Conn
	for range 4 {
		c, err := s.DB().Conn(ctx)
		must(t, err, "conn")
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode, zone, charset, collation string
		must(t, c.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.time_zone, @@SESSION.character_set_connection, @@SESSION.collation_connection").
			Scan(&mode, &zone, &charset, &collation), "session settings")
		if !strings.Contains(","+mode+",", ",STRICT_ALL_TABLES,") {
			t.Errorf("session %d: sql_mode %q lacks STRICT_ALL_TABLES", i, mode)
		}
		if zone != "+00:00" {
			t.Errorf("session %d: time_zone %q, want +00:00", i, zone)
		}
		if charset != "utf8mb4" {
			t.Errorf("session %d: character_set_connection %q (collation %s), want utf8mb4", i, charset, collation)
		}
	}
	for _, c := range conns {
		c.Close()
	}

	// A value too long for its column is an error, not a truncation, and
	// a missing parent is an error, not a warning.
	row := rawTag(s, "too-long")
	row["source_id"] = strings.Repeat("s", 300+ttprepo.MaxSourceIDLen)
	if err := rawInsert(ctx, s, row); err == nil {
		t.Error("a too-long source_id was accepted through store.DB()")
	}
	row = rawTag(s, "orphan")
	row["attacker_uuid"] = "nobody"
	if err := rawInsert(ctx, s, row); err == nil {
		t.Error("a tag of a missing attacker was accepted through store.DB()")
	}
	if n, err := s.CountTags(ctx); err != nil || n != 0 {
		t.Errorf("count = %d, %v; want 0", n, err)
	}

	// Every table and every text column is utf8mb4.
	rows, err := s.DB().QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL AND TABLE_NAME <> 'goose_db_version'`)
	must(t, err, "columns")
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var table, col, cs string
		must(t, rows.Scan(&table, &col, &cs))
		seen++
		if cs != "utf8mb4" {
			t.Errorf("%s.%s is %s, want utf8mb4", table, col, cs)
		}
	}
	if seen < 20 {
		t.Errorf("only %d text columns found", seen)
	}
}

// TestFourByteCharsRoundTrip stores emoji and other characters outside
// the Basic Multilingual Plane in ids and evidence and reads them back,
// byte for byte, through the facade and through plain SQL.
func TestFourByteCharsRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		tg := tag("src-😀-𝄞-𠜎-🏳️‍🌈", 0.9, time.Date(2026, 3, 1, 12, 0, 0, 1000, time.UTC))
		tg.SessionID = ptr("sess-👾")
		tg.DeckyID = ptr("decky-🍯")
		// Spacing, key order, escapes and duplicates are kept as written:
		// evidence is stored as text, not re-encoded.
		tg.Evidence = json.RawMessage("{ \"cmd\" : \"echo 😀 > /tmp/\\u00e9\",\n\t\"b\":[1,2.50,\"𠜎\"], \"a\": {\"z\":1,\"y\":\"\\ud83d\\ude00\"}, \"a\": 2 }")
		_, err := s.InsertTags(ctx, []ttprepo.Tag{tg})
		must(t, err, "insert")

		got, err := s.GetTag(ctx, tg.UUID)
		must(t, err, "get")
		if !reflect.DeepEqual(got, tg) {
			t.Errorf("GetTag changed the tag:\n got  %+v\n want %+v", got, tg)
		}

		var sourceID, session, decky string
		var evidence []byte
		must(t, s.DB().QueryRowContext(ctx, "SELECT source_id, session_id, decky_id, evidence FROM ttp_tag WHERE uuid = ?", tg.UUID).
			Scan(&sourceID, &session, &decky, &evidence), "raw select")
		if sourceID != tg.SourceID || session != *tg.SessionID || decky != *tg.DeckyID {
			t.Errorf("raw ids %q %q %q, want %q %q %q", sourceID, session, decky, tg.SourceID, *tg.SessionID, *tg.DeckyID)
		}
		if !bytes.Equal(evidence, tg.Evidence) {
			t.Errorf("raw evidence\n got  %q\n want %q", evidence, tg.Evidence)
		}
		rollup, err := s.ListTechniquesBySession(ctx, "sess-👾")
		must(t, err, "session rollup")
		if len(rollup) != 1 || rollup[0].Count != 1 {
			t.Errorf("session rollup by a 4-byte id: %+v", rollup)
		}
	})
}

// hostile are ids that break code which builds SQL by hand, matches with
// LIKE, folds case, trims spaces or normalises Unicode.
var hostile = []string{
	"'", `"`, "''", "'; DROP TABLE ttp_tag; --", `"; DROP TABLE ttp_tag; --`,
	"%", "_", "a%", "a_", "%_%", `\`, `\\`, `\'`, `\%`, `\_`, "`", "``; --",
	"x", "X", "x ", " x", "x\t", "x\r\n", "e\u0301", "é", "ﬃ", "İ", "ı",
	"\u200b", "NULL", "null", "?", "$1", ":name", "@v", "/* */", "--",
	strings.Repeat(`\`, ttprepo.MaxIDLen), strings.Repeat("'", ttprepo.MaxIDLen),
	strings.Repeat("%", ttprepo.MaxIDLen), strings.Repeat("😀", ttprepo.MaxIDLen),
}

// TestHostileIDsRoundTrip uses each hostile string as every id of a tag
// (campaign, identity, attacker, tag, session, decky, rule, source) and
// checks that each comes back byte for byte and that lookups by it find
// that tag alone.
func TestHostileIDsRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		want := map[string]ttprepo.Tag{}
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i, h := range hostile {
			must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: h}), "campaign", h)
			must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: h, CampaignID: &h}), "identity", h)
			must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: h, IP: h, IdentityID: &h}), "attacker", h)
			tg := ttprepo.Tag{
				UUID: h, SourceKind: h, SourceID: h, AttackerUUID: &h, IdentityUUID: &h,
				SessionID: &h, DeckyID: &h, Tactic: "TA0006", TechniqueID: "T1110",
				Confidence: 0.5, RuleID: h, RuleVersion: int32(i), Evidence: json.RawMessage(`{"id":` + jsonString(h) + `}`),
				AttackRelease: strings.Repeat("'", ttprepo.MaxAttackReleaseLen), MitreURL: h,
				CreatedAt: at.Add(time.Duration(i) * time.Microsecond),
			}
			n, err := s.InsertTags(ctx, []ttprepo.Tag{tg})
			must(t, err, "insert", h)
			if n != 1 {
				t.Errorf("%q: inserted %d, want 1 (an id that differs from another only by case, space or escape is distinct)", h, n)
			}
			want[h] = tg
		}
		if n, err := s.CountTags(ctx); err != nil || n != int64(len(hostile)) {
			t.Errorf("count = %d, %v; want %d", n, err, len(hostile))
		}

		for _, h := range hostile {
			got, err := s.GetTag(ctx, h)
			if err != nil {
				t.Errorf("GetTag(%q): %v", h, err)
				continue
			}
			if !reflect.DeepEqual(got, want[h]) {
				t.Errorf("GetTag(%q) changed the tag:\n got  %+v\n want %+v", h, got, want[h])
			}

			// Each scope holds exactly its own one tag, read back at its own
			// instant: no LIKE, no case folding, no trimming.
			check := func(scope string, rows []ttprepo.TechniqueRollup, err error) {
				t.Helper()
				if err != nil {
					t.Errorf("%s %q: %v", scope, h, err)
					return
				}
				if len(rows) != 1 || rows[0].Count != 1 || !rows[0].FirstSeen.Equal(want[h].CreatedAt) {
					t.Errorf("%s %q: %+v, want one row of count 1 first seen %s", scope, h, rows, want[h].CreatedAt)
				}
			}
			rows, err := s.ListTechniquesByAttacker(ctx, h)
			check("attacker", rows, err)
			rows, err = s.ListTechniquesByIdentity(ctx, h)
			check("identity", rows, err)
			rows, err = s.ListTechniquesBySession(ctx, h)
			check("session", rows, err)
			camp, err := s.ListTechniquesByCampaign(ctx, h)
			if err != nil || len(camp) != 1 || camp[0].Count != 1 || camp[0].IdentityCount != 1 {
				t.Errorf("campaign %q: %+v, %v", h, camp, err)
			}
			phases, err := s.ListDeckyPhases(ctx, h)
			if err != nil || len(phases) != 1 || phases[0].DeckyID != h {
				t.Errorf("decky phases %q: %+v, %v", h, phases, err)
			}
		}

		// The table is still there and whole, and plain SQL reads back the
		// same set of ids.
		rows, err := s.DB().QueryContext(ctx, "SELECT uuid, source_id, rule_id, mitre_url FROM ttp_tag")
		must(t, err, "raw select")
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id, src, rule, url string
			must(t, rows.Scan(&id, &src, &rule, &url))
			if src != id || rule != id || url != id {
				t.Errorf("raw row %q: source_id %q rule_id %q mitre_url %q", id, src, rule, url)
			}
			ids = append(ids, id)
		}
		must(t, rows.Err())
		wantIDs := append([]string(nil), hostile...)
		sort.Strings(ids)
		sort.Strings(wantIDs)
		if !reflect.DeepEqual(ids, wantIDs) {
			t.Errorf("raw ids\n got  %q\n want %q", ids, wantIDs)
		}
	})
}

func jsonString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// TestNoInsertIgnore guards the MySQL write path: INSERT IGNORE turns a
// missing parent or a too-long value into a warning and drops or
// truncates the row, so only ON DUPLICATE KEY UPDATE may skip duplicates.
// Comment lines are left out: they may name it to say why it is not used.
func TestNoInsertIgnore(t *testing.T) {
	checked := 0
	for _, dir := range []string{"../queries", "../migrations", "../ttprepo", "../ingest", "../cmd", "../db"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sql")) {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			checked++
			for i, line := range strings.Split(string(raw), "\n") {
				code := strings.TrimSpace(line)
				if strings.HasPrefix(code, "//") || strings.HasPrefix(code, "--") {
					continue
				}
				if strings.Contains(strings.ToUpper(strings.Join(strings.Fields(code), " ")), "INSERT IGNORE") {
					t.Errorf("%s:%d: %s", path, i+1, code)
				}
			}
			return nil
		})
		must(t, err, "walk", dir)
	}
	if checked < 10 {
		t.Errorf("only %d files checked", checked)
	}
}
