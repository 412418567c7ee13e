package tests

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// fleet builds a small fleet: campaign c1 with identities i1 and i2,
// attackers a1 (i1), a2 (i2) and a3 (no identity yet).
func fleet(t *testing.T, s *ttprepo.Store) {
	ctx := context.Background()
	must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: "c1"}))
	must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: "i1", CampaignID: ptr("c1")}))
	must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: "i2", CampaignID: ptr("c1")}))
	must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: "a1", IP: "192.0.2.1", IdentityID: ptr("i1")}))
	must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: "a2", IP: "192.0.2.2", IdentityID: ptr("i2")}))
	must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: "a3", IP: "192.0.2.3"}))
}

// tag returns a valid tag on attacker a1 whose id follows from sourceID.
func tag(sourceID string, conf float64, at time.Time) ttprepo.Tag {
	return ttprepo.Tag{
		UUID:           ttprepo.TagUUID("session", sourceID, "R0003", 1, "T1110", "T1110.001"),
		SourceKind:     "session",
		SourceID:       sourceID,
		AttackerUUID:   ptr("a1"),
		SessionID:      ptr("s1"),
		DeckyID:        ptr("decky-01"),
		Tactic:         "TA0006",
		TechniqueID:    "T1110",
		SubTechniqueID: ptr("T1110.001"),
		Confidence:     conf,
		RuleID:         "R0003",
		RuleVersion:    1,
		Evidence:       json.RawMessage(`{"fail_count": 12}`),
		AttackRelease:  "15.1",
		MitreURL:       "https://attack.mitre.org/techniques/T1110/001/",
		CreatedAt:      at,
	}
}

func TestOpenRoutesDSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{"sqlite:" + filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")} {
		s, err := ttprepo.Open(ctx, dsn)
		must(t, err, dsn)
		if s.Dialect() != ttprepo.SQLite {
			t.Errorf("%s: dialect %s, want sqlite", dsn, s.Dialect())
		}
		s.Close()
	}
	// A path is a file name as it stands: characters that mean something
	// in a URI do not cut it short or turn into parameters.
	for _, name := range []string{"h#1.db", "q?mode=ro.db", "p%41.db"} {
		s, err := ttprepo.Open(ctx, "sqlite:"+filepath.Join(dir, name))
		must(t, err, name)
		_, err = s.Migrate(ctx)
		must(t, err, name)
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("sqlite:%s did not create a file of that name: %v", name, err)
		}
	}
	for _, dsn := range []string{"postgres://localhost/x", "sqlite:", "mysql:root@tcp(127.0.0.1:3306)/x", "MySQL:x", "mysql//root@tcp(127.0.0.1:3306)/x", "MYSQL//x"} {
		if _, err := ttprepo.Open(ctx, dsn); !errors.Is(err, ttprepo.ErrUnsupportedDSN) {
			t.Errorf("Open(%q) = %v, want ErrUnsupportedDSN", dsn, err)
		}
	}
	if _, err := ttprepo.OpenDB(nil, "oracle"); !errors.Is(err, ttprepo.ErrUnsupportedDSN) {
		t.Errorf("OpenDB with an unknown dialect = %v, want ErrUnsupportedDSN", err)
	}
}

// TestOpenDBWithCallerDB checks the constructor that takes a *sql.DB.
func TestOpenDBWithCallerDB(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", ttprepo.SQLiteDSN(filepath.Join(t.TempDir(), "c.db")))
	must(t, err)
	defer db.Close()
	s, err := ttprepo.OpenDB(db, ttprepo.SQLite)
	must(t, err)
	_, err = s.Migrate(ctx)
	must(t, err)
	fleet(t, s)
	n, err := s.InsertTags(ctx, []ttprepo.Tag{tag("x", 0.9, time.Now().UTC().Truncate(time.Microsecond))})
	must(t, err)
	if n != 1 {
		t.Fatalf("inserted %d, want 1", n)
	}
	must(t, s.Close())
	// The caller still owns db: Close must not have closed it.
	must(t, db.PingContext(ctx), "ping after Store.Close")
}

// TestSQLiteForeignKeysOnEveryConnection holds several pooled connections
// at once and checks each one enforces foreign keys.
func TestSQLiteForeignKeysOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, freshSQLite(t))
	var conns []*sql.Conn
	for range 5 {
		c, err := s.DB().Conn(ctx)
		must(t, err)
		conns = append(conns, c)
	}
	for i, c := range conns {
		var on int
		must(t, c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on))
		if on != 1 {
			t.Errorf("connection %d: foreign_keys = %d, want 1", i, on)
		}
		c.Close()
	}
}

func TestFloorAndPrecision(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		at := time.Date(2026, 3, 9, 10, 44, 0, 123456000, time.UTC)
		tags := []ttprepo.Tag{
			tag("below", 0.2999999, at),
			tag("at-floor", 0.3, at.Add(time.Microsecond)),
			tag("high", 0.85, at.Add(2*time.Microsecond)),
		}
		n, err := s.InsertTags(ctx, tags)
		must(t, err)
		if n != 2 {
			t.Fatalf("inserted %d, want 2 (one below the floor)", n)
		}
		rows, err := s.ListTechniquesByAttacker(ctx, "a1")
		must(t, err)
		if len(rows) != 1 {
			t.Fatalf("got %d rollup rows, want 1: %+v", len(rows), rows)
		}
		r := rows[0]
		if r.Count != 2 || r.ConfidenceMax != 0.85 {
			t.Errorf("count %d confidence_max %v, want 2 and exactly 0.85", r.Count, r.ConfidenceMax)
		}
		if !r.FirstSeen.Equal(at.Add(time.Microsecond)) || !r.LastSeen.Equal(at.Add(2*time.Microsecond)) {
			t.Errorf("first/last seen %s / %s, want microsecond-exact %s / %s", r.FirstSeen, r.LastSeen,
				at.Add(time.Microsecond), at.Add(2*time.Microsecond))
		}
		if r.FirstSeen.Location() != time.UTC {
			t.Errorf("first seen in %s, want UTC", r.FirstSeen.Location())
		}
	})
}

// TestMoveAttackerBetweenIdentities checks that moving an attacker is an
// upsert and that identity scopes follow it at once.
func TestMoveAttackerBetweenIdentities(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		_, err := s.InsertTags(ctx, []ttprepo.Tag{tag("m", 0.9, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
		must(t, err)

		count := func(identity string) int {
			rows, err := s.ListTechniquesByIdentity(ctx, identity)
			must(t, err)
			return len(rows)
		}
		if count("i1") != 1 || count("i2") != 0 {
			t.Fatalf("before the move: i1 has %d rows, i2 %d; want 1 and 0", count("i1"), count("i2"))
		}
		must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: "a1", IP: "192.0.2.1", IdentityID: ptr("i2")}))
		if count("i1") != 0 || count("i2") != 1 {
			t.Fatalf("after the move: i1 has %d rows, i2 %d; want 0 and 1", count("i1"), count("i2"))
		}
	})
}

func TestUnknownAnchorWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		bad := tag("ghost", 0.9, at)
		bad.AttackerUUID = ptr("no-such-attacker")
		bad.UUID = ttprepo.TagUUID("session", "ghost", "R0003", 1, "T1110", "T1110.001")
		_, err := s.InsertTags(ctx, []ttprepo.Tag{tag("ok1", 0.9, at), bad, tag("ok2", 0.9, at)})
		var te *ttprepo.TagError
		if !errors.As(err, &te) || !errors.Is(err, ttprepo.ErrUnknownAnchor) {
			t.Fatalf("err = %v, want a *TagError matching ErrUnknownAnchor", err)
		}
		if te.Index != 1 || te.Field != "attacker_uuid" || te.UUID != bad.UUID {
			t.Errorf("error names tag %d %q field %q, want tag 1 %q field attacker_uuid", te.Index, te.UUID, te.Field, bad.UUID)
		}
		n, err := s.CountTags(ctx)
		must(t, err)
		if n != 0 {
			t.Errorf("%d tags stored after a refused call, want 0", n)
		}
	})
}

func TestUpsertUnknownParent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		err := s.UpsertIdentity(ctx, ttprepo.Identity{UUID: "i9", CampaignID: ptr("nope")})
		var ie *ttprepo.InputError
		if !errors.As(err, &ie) || ie.Field != "campaign_id" {
			t.Errorf("identity with unknown campaign: %v, want an InputError on campaign_id", err)
		}
		err = s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: "a9", IP: "192.0.2.9", IdentityID: ptr("nope")})
		if !errors.As(err, &ie) || ie.Field != "identity_id" {
			t.Errorf("attacker with unknown identity: %v, want an InputError on identity_id", err)
		}
	})
}

func TestEmptyScopes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		rows, err := s.ListTechniquesByIdentity(ctx, "nobody")
		must(t, err)
		if rows == nil || len(rows) != 0 {
			t.Errorf("empty identity scope = %#v, want an empty non-nil slice", rows)
		}
		fleetRows, err := s.ListDistinctTechniques(ctx)
		must(t, err)
		if fleetRows == nil || len(fleetRows) != 0 {
			t.Errorf("empty fleet = %#v, want an empty non-nil slice", fleetRows)
		}
	})
}

// TestUnknownAnchorNamesTheRealCulprit: a replay of a stored id is skipped
// without its anchors being checked, so when a call fails the error must
// name the new tag with the missing anchor, not the replay before it.
func TestUnknownAnchorNamesTheRealCulprit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		stored := tag("stored", 0.9, at)
		_, err := s.InsertTags(ctx, []ttprepo.Tag{stored})
		must(t, err)

		replay := stored
		replay.AttackerUUID = ptr("ghost-1") // skipped as a duplicate: never checked
		bad := tag("new", 0.9, at)
		bad.AttackerUUID = ptr("ghost-2")
		_, err = s.InsertTags(ctx, []ttprepo.Tag{replay, bad})
		var te *ttprepo.TagError
		if !errors.As(err, &te) || te.Index != 1 || te.Field != "attacker_uuid" {
			t.Fatalf("err = %v, want tag 1 named on attacker_uuid", err)
		}

		// Alone, the replay stays silent.
		n, err := s.InsertTags(ctx, []ttprepo.Tag{replay})
		if err != nil || n != 0 {
			t.Fatalf("replay alone: inserted %d, err %v; want 0, nil", n, err)
		}
	})
}

// TestEvidenceAcceptedByBothBackends: evidence at the nesting limit is
// stored by both databases; deeper evidence, or half a surrogate pair,
// is refused by the library with the field named, before either database
// could disagree.
func TestEvidenceAcceptedByBothBackends(t *testing.T) {
	nested := func(depth int) json.RawMessage {
		inner := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
		return json.RawMessage(`{"a": ` + inner + `}`)
	}
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

		ok := tag("deep-ok", 0.9, at)
		ok.Evidence = nested(ttprepo.MaxEvidenceDepth)
		if n, err := s.InsertTags(ctx, []ttprepo.Tag{ok}); err != nil || n != 1 {
			t.Fatalf("evidence %d deep: inserted %d, err %v; want 1, nil", ttprepo.MaxEvidenceDepth, n, err)
		}
		got, err := s.GetTag(ctx, ok.UUID)
		must(t, err)
		if string(got.Evidence) != string(ok.Evidence) {
			t.Errorf("evidence read back as %s, want %s", got.Evidence, ok.Evidence)
		}

		for name, ev := range map[string]json.RawMessage{
			"too deep":       nested(ttprepo.MaxEvidenceDepth + 1),
			"lone surrogate": json.RawMessage(`{"x": "\ud800"}`),
		} {
			bad := tag("bad-"+name, 0.9, at)
			bad.Evidence = ev
			_, err := s.InsertTags(ctx, []ttprepo.Tag{bad})
			var te *ttprepo.TagError
			if !errors.As(err, &te) || te.Field != "evidence" {
				t.Errorf("%s: err = %v, want a TagError on evidence", name, err)
			}
		}
	})
}

// TestDrillDownFindsTagAtLatestInstant: a tag at the latest instant the
// store accepts still shows on the first page.
func TestDrillDownFindsTagAtLatestInstant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		last := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		_, err := s.InsertTags(ctx, []ttprepo.Tag{tag("late", 0.9, last), tag("early", 0.9, last.AddDate(-1, 0, 0))})
		must(t, err)
		page, err := s.ListAttackerTags(ctx, "a1", "", 10)
		must(t, err)
		if len(page.Tags) != 2 || !page.Tags[0].CreatedAt.Equal(last) {
			t.Fatalf("page holds %d tags (first at %v), want 2 with the latest first", len(page.Tags), page.Tags)
		}
	})
}

// TestStatsExactAtEverySchemaVersion writes a new tag and a replay at each
// schema version from the latest down to 00002 (the first with the stats
// triggers) and back up, and checks after each step that the fleet counts
// hold every tag once and only once, and that a replay, even a later one,
// neither counts nor moves last_seen. Whatever keeps the counts must do so
// at every version a database can be migrated to.
func TestStatsExactAtEverySchemaVersion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		written := 0
		check := func(step string) {
			t.Helper()
			tg := tag(fmt.Sprintf("at-%s", step), 0.9, at.Add(time.Duration(written)*time.Hour))
			n, err := s.InsertTags(ctx, []ttprepo.Tag{tg})
			must(t, err, step)
			// The same tag again, later: a replay, neither counted nor
			// moving last_seen.
			replay := tg
			replay.CreatedAt = tg.CreatedAt.Add(1000 * time.Hour)
			m, err := s.InsertTags(ctx, []ttprepo.Tag{replay})
			must(t, err, step)
			written++
			rows, err := s.ListDistinctTechniques(ctx)
			must(t, err, step)
			if n != 1 || m != 0 || len(rows) != 1 || rows[0].Count != int64(written) || !rows[0].LastSeen.Equal(tg.CreatedAt) {
				t.Fatalf("%s: inserted %d then %d; fleet techniques %+v, want one row counting %d tags, last seen %s",
					step, n, m, rows, written, tg.CreatedAt)
			}
		}
		v := latestVersion(t, s.Dialect())
		check(fmt.Sprintf("v%d", v))
		for v > 2 {
			var err error
			v, err = s.MigrateDown(ctx)
			must(t, err)
			check(fmt.Sprintf("down-v%d", v))
		}
		_, err := s.Migrate(ctx)
		must(t, err)
		check("up")
	})
}

// TestStatsRebuiltWhenTriggersReturn: tags written while the stats
// triggers were migrated away are counted once they are migrated back.
func TestStatsRebuiltWhenTriggersReturn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := s.InsertTags(ctx, []ttprepo.Tag{tag("before", 0.9, at)})
		must(t, err)

		// Down to 00001, below the triggers of 00002, one step at a time
		// through any later migration.
		v := latestVersion(t, s.Dialect())
		for v > 1 {
			next, err := s.MigrateDown(ctx)
			must(t, err)
			if next != v-1 {
				t.Fatalf("migrated down from %d to %d, want %d", v, next, v-1)
			}
			v = next
		}
		_, err = s.InsertTags(ctx, []ttprepo.Tag{tag("while-down", 0.9, at.Add(time.Hour))})
		must(t, err)
		_, err = s.Migrate(ctx)
		must(t, err)

		rows, err := s.ListDistinctTechniques(ctx)
		must(t, err)
		if len(rows) != 1 || rows[0].Count != 2 || !rows[0].LastSeen.Equal(at.Add(time.Hour)) {
			t.Fatalf("fleet techniques %+v, want one row counting 2 tags, last seen %s", rows, at.Add(time.Hour))
		}
	})
}

// TestCampaignCountsEachTagOnce builds the anchor combinations a campaign
// rollup must count exactly once: a tag whose own identity and whose
// attacker's identity are two different members (it shows for both
// identities), a tag whose own identity is outside the campaign while its
// attacker's identity is a member, and tags anchored one way only. The
// expected figures are derived in Go from the scope's definition.
func TestCampaignCountsEachTagOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s) // c1 = {i1, i2}; a1 -> i1, a2 -> i2, a3 -> none
		must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: "c2"}))
		must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: "i3", CampaignID: ptr("c2")}))
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		mk := func(src string, attacker, identity *string, minutes int) ttprepo.Tag {
			tg := tag(src, 0.9, at.Add(time.Duration(minutes)*time.Minute))
			tg.UUID = ttprepo.TagUUID("session", src, "R0003", 1, "T1110", "T1110.001")
			tg.AttackerUUID, tg.IdentityUUID = attacker, identity
			return tg
		}
		tags := []ttprepo.Tag{
			mk("x-both-members", ptr("a1"), ptr("i2"), 1), // i2 directly, i1 through a1
			mk("x-outsider-id", ptr("a1"), ptr("i3"), 2),  // i1 through a1 only
			mk("x-same-member", ptr("a2"), ptr("i2"), 3),  // i2 both ways
			mk("x-attacker-only", ptr("a1"), nil, 4),      // i1
			mk("x-identity-only", nil, ptr("i1"), 5),      // i1
			mk("x-no-member", ptr("a3"), ptr("i3"), 6),    // outside c1
		}
		_, err := s.InsertTags(ctx, tags)
		must(t, err)

		identityOf := map[string]string{"a1": "i1", "a2": "i2"}
		members := map[string]bool{"i1": true, "i2": true}
		wantCount, showing := 0, map[string]bool{}
		for _, tg := range tags {
			in := false
			if tg.IdentityUUID != nil && members[*tg.IdentityUUID] {
				in = true
				showing[*tg.IdentityUUID] = true
			}
			if tg.AttackerUUID != nil && members[identityOf[*tg.AttackerUUID]] {
				in = true
				showing[identityOf[*tg.AttackerUUID]] = true
			}
			if in {
				wantCount++
			}
		}
		rows, err := s.ListTechniquesByCampaign(ctx, "c1")
		must(t, err)
		if len(rows) != 1 {
			t.Fatalf("campaign c1: %d rows, want 1: %+v", len(rows), rows)
		}
		r := rows[0]
		if r.Count != int64(wantCount) || r.IdentityCount != int64(len(showing)) {
			t.Errorf("campaign c1: count %d, identities %d; want %d and %d", r.Count, r.IdentityCount, wantCount, len(showing))
		}
		if wantCount != 5 || len(showing) != 2 {
			t.Fatalf("fixture drifted: %d tags in scope, %d identities", wantCount, len(showing))
		}
		if want := at.Add(5 * time.Minute); !r.LastSeen.Equal(want) {
			t.Errorf("campaign c1: last seen %s, want %s", r.LastSeen, want)
		}
	})
}

// TestExists tells stored identities, attackers and campaigns from
// unknown ids on both backends, and refuses a session scope, which has no
// row of its own.
func TestExists(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: "c-known"}))
		must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: "i-known"}))
		must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: "a-known", IP: "192.0.2.7"}))
		for _, c := range []struct {
			kind ttprepo.ScopeKind
			id   string
			want bool
		}{
			{ttprepo.ScopeCampaign, "c-known", true},
			{ttprepo.ScopeCampaign, "i-known", false},
			{ttprepo.ScopeIdentity, "i-known", true},
			{ttprepo.ScopeIdentity, "a-known", false},
			{ttprepo.ScopeAttacker, "a-known", true},
			{ttprepo.ScopeAttacker, "c-known", false},
		} {
			got, err := s.Exists(ctx, ttprepo.Scope{Kind: c.kind, ID: c.id})
			if err != nil || got != c.want {
				t.Errorf("Exists(%s %s) = %v, %v; want %v", c.kind, c.id, got, err, c.want)
			}
		}
		for _, sc := range []ttprepo.Scope{{Kind: ttprepo.ScopeSession, ID: "s1"}, {}, {Kind: ttprepo.ScopeIdentity}} {
			if _, err := s.Exists(ctx, sc); !errors.Is(err, ttprepo.ErrInvalidInput) {
				t.Errorf("Exists(%v): %v, want ErrInvalidInput", sc, err)
			}
		}
	})
}
