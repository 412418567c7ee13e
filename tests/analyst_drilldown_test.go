package tests

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// allTags pages through q with small pages and checks each page's order.
func allTags(t *testing.T, s *ttprepo.Store, q ttprepo.TagQuery) []ttprepo.Tag {
	t.Helper()
	var out []ttprepo.Tag
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("%v: pagination does not end", q.Scope)
		}
		p, err := s.ListTags(context.Background(), q)
		must(t, err, "list tags", q.Scope, q.TechniqueID)
		if len(p.Tags) > q.Limit {
			t.Fatalf("page of %d tags, limit %d", len(p.Tags), q.Limit)
		}
		if p.Next != "" && len(p.Tags) != q.Limit {
			t.Fatalf("page of %d tags with a next cursor, limit %d", len(p.Tags), q.Limit)
		}
		out = append(out, p.Tags...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	checkNewestFirst(t, out)
	return out
}

// checkNewestFirst fails unless tags are strictly descending by
// (created_at, uuid), which also rules out repeats.
func checkNewestFirst(t *testing.T, tags []ttprepo.Tag) {
	t.Helper()
	for i := 1; i < len(tags); i++ {
		a, b := tags[i-1], tags[i]
		if c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.UUID, b.UUID)); c <= 0 {
			t.Fatalf("tags %d and %d out of order: %s %s then %s %s", i-1, i, a.CreatedAt, a.UUID, b.CreatedAt, b.UUID)
		}
	}
}

type rollupRow struct {
	tech      string
	sub       *string
	count     int64
	firstSeen *time.Time
	lastSeen  time.Time
}

func subKey(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// TestAnalystDrillDownMatchesRollups drills into every rollup row of
// expected.json, for each scope kind, and checks that the tags are
// exactly those the row counts, as stored.
func TestAnalystDrillDownMatchesRollups(t *testing.T) {
	want := loadExpected(t)
	var same sameAnswers
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		stored := loadStored(t, s)
		byID := map[string]ttprepo.Tag{}
		for _, tg := range stored {
			byID[tg.UUID] = tg
		}

		scopes := map[ttprepo.ScopeKind]map[string][]rollupRow{
			ttprepo.ScopeIdentity: {}, ttprepo.ScopeAttacker: {}, ttprepo.ScopeSession: {}, ttprepo.ScopeCampaign: {},
		}
		add := func(kind ttprepo.ScopeKind, from map[string][]ttprepo.TechniqueRollup) {
			for id, rows := range from {
				for _, r := range rows {
					scopes[kind][id] = append(scopes[kind][id], rollupRow{r.TechniqueID, r.SubTechniqueID, r.Count, &r.FirstSeen, r.LastSeen})
				}
			}
		}
		add(ttprepo.ScopeIdentity, want.ByIdentity)
		add(ttprepo.ScopeAttacker, want.ByAttacker)
		add(ttprepo.ScopeSession, want.BySession)
		for id, rows := range want.ByCampaign {
			for _, r := range rows {
				scopes[ttprepo.ScopeCampaign][id] = append(scopes[ttprepo.ScopeCampaign][id], rollupRow{r.TechniqueID, r.SubTechniqueID, r.Count, nil, r.LastSeen})
			}
		}

		// Rows with no sub-technique beside rows of the same technique
		// with one: the case where nil must not mean "any".
		mixed := 0
		digest := map[string]int{}
		for kind, byScope := range scopes {
			if len(byScope) == 0 {
				t.Fatalf("expected.json has no %s scopes", kind)
			}
			for id, rows := range byScope {
				hasSub := map[string]bool{}
				for _, r := range rows {
					if r.sub != nil {
						hasSub[r.tech] = true
					}
				}
				for _, r := range rows {
					if r.sub == nil && hasSub[r.tech] {
						mixed++
					}
					q := ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: kind, ID: id}, TechniqueID: r.tech, SubTechniqueID: r.sub, Limit: 7}
					got := allTags(t, s, q)
					what := fmt.Sprintf("%s %s %s/%s", kind, id, r.tech, subKey(r.sub))
					digest[what] = len(got)
					if int64(len(got)) != r.count {
						t.Errorf("%s: %d tags, rollup counts %d", what, len(got), r.count)
						continue
					}
					if r.firstSeen != nil && !got[len(got)-1].CreatedAt.Equal(*r.firstSeen) {
						t.Errorf("%s: oldest tag %s, rollup first_seen %s", what, got[len(got)-1].CreatedAt, *r.firstSeen)
					}
					if !got[0].CreatedAt.Equal(r.lastSeen) {
						t.Errorf("%s: newest tag %s, rollup last_seen %s", what, got[0].CreatedAt, r.lastSeen)
					}
					for _, tg := range got {
						if tg.TechniqueID != r.tech || subKey(tg.SubTechniqueID) != subKey(r.sub) {
							t.Errorf("%s: tag %s is %s/%s", what, tg.UUID, tg.TechniqueID, subKey(tg.SubTechniqueID))
						}
						in, ok := byID[tg.UUID]
						if !ok {
							t.Errorf("%s: tag %s was never inserted", what, tg.UUID)
							continue
						}
						if !reflect.DeepEqual(tg, in) {
							t.Errorf("%s: tag %s reads back as\n%+v\nwritten as\n%+v", what, tg.UUID, tg, in)
						}
						if string(tg.Evidence) != string(in.Evidence) {
							t.Errorf("%s: evidence %s, written %s", what, tg.Evidence, in.Evidence)
						}
					}
				}
			}
		}
		if mixed == 0 {
			t.Fatal("corpus has no technique with and without a sub-technique in one scope; the nil case is untested")
		}
		same.record(t, digest)
	})
	same.check(t)
}

// TestAnalystAttackerTagsPaging pages through each attacker's tags and
// checks them against the corpus, then checks that a tag arriving between
// two pages changes neither what follows nor what was read.
func TestAnalystAttackerTagsPaging(t *testing.T) {
	var same sameAnswers
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		stored := loadStored(t, s)
		byAttacker := map[string][]ttprepo.Tag{}
		for _, tg := range stored {
			if tg.AttackerUUID != nil {
				byAttacker[*tg.AttackerUUID] = append(byAttacker[*tg.AttackerUUID], tg)
			}
		}
		if len(byAttacker) == 0 {
			t.Fatal("corpus has no attacker tags")
		}

		busiest, digest := "", map[string][]string{}
		for id, want := range byAttacker {
			sort.Slice(want, func(i, j int) bool {
				a, b := want[i], want[j]
				return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.UUID, a.UUID)) < 0
			})
			got := allTags(t, s, ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: ttprepo.ScopeAttacker, ID: id}, Limit: 4})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("attacker %s: %d tags paged, %d stored, or they differ", id, len(got), len(want))
			}
			for _, tg := range got {
				digest[id] = append(digest[id], tg.UUID)
			}
			if len(want) > len(byAttacker[busiest]) {
				busiest = id
			}
		}
		same.record(t, digest)

		// Read two pages, then a new tag arrives, then read the rest.
		want := byAttacker[busiest]
		if len(want) < 8 {
			t.Fatalf("busiest attacker has only %d tags", len(want))
		}
		var got []ttprepo.Tag
		p, err := s.ListAttackerTags(ctx, busiest, "", 3)
		must(t, err)
		got = append(got, p.Tags...)
		p, err = s.ListAttackerTags(ctx, busiest, p.Next, 3)
		must(t, err)
		got = append(got, p.Tags...)

		fresh := want[0]
		fresh.UUID = "fresh-" + want[0].UUID[:8]
		fresh.SourceID = "arrived-between-pages"
		fresh.CreatedAt = want[0].CreatedAt.Add(time.Hour)
		n, err := s.InsertTags(ctx, []ttprepo.Tag{fresh})
		must(t, err, "insert fresh tag")
		if n != 1 {
			t.Fatalf("fresh tag: inserted %d", n)
		}
		for cursor := p.Next; cursor != ""; {
			p, err = s.ListAttackerTags(ctx, busiest, cursor, 3)
			must(t, err)
			got = append(got, p.Tags...)
			cursor = p.Next
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pages read across an insert: %d tags, want the %d stored before it", len(got), len(want))
		}
		p, err = s.ListAttackerTags(ctx, busiest, "", 1)
		must(t, err)
		if len(p.Tags) != 1 || p.Tags[0].UUID != fresh.UUID {
			t.Errorf("a new first page does not start with the new tag: %+v", p.Tags)
		}
	})
	same.check(t)
}

func TestAnalystTagQueryErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		idScope := ttprepo.Scope{Kind: ttprepo.ScopeIdentity, ID: "x"}
		cases := []struct {
			name string
			q    ttprepo.TagQuery
			want error
		}{
			{"no technique", ttprepo.TagQuery{Scope: idScope}, ttprepo.ErrInvalidInput},
			{"no scope id", ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: ttprepo.ScopeSession}, TechniqueID: "T1110"}, ttprepo.ErrInvalidInput},
			{"fleet scope", ttprepo.TagQuery{TechniqueID: "T1110"}, ttprepo.ErrInvalidInput},
			{"limit too big", ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110", Limit: ttprepo.MaxTagPageSize + 1}, ttprepo.ErrInvalidInput},
			{"negative limit", ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110", Limit: -1}, ttprepo.ErrInvalidInput},
			{"bare sub-technique suffix", ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110", SubTechniqueID: ptr("003")}, ttprepo.ErrInvalidInput},
			{"sub-technique of another technique", ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110", SubTechniqueID: ptr("T1059.001")}, ttprepo.ErrInvalidInput},
			{"sub-technique without technique", ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: ttprepo.ScopeAttacker, ID: "a"}, SubTechniqueID: ptr("T1059.001")}, ttprepo.ErrInvalidInput},
			{"cursor not base64", ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110", Cursor: "%%%"}, ttprepo.ErrInvalidCursor},
			{"cursor not ours", ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110", Cursor: "aGVsbG8"}, ttprepo.ErrInvalidCursor},
		}
		for _, c := range cases {
			_, err := s.ListTags(ctx, c.q)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.want)
			}
		}
		// A scope that holds nothing is an empty page, not an error.
		p, err := s.ListTags(ctx, ttprepo.TagQuery{Scope: idScope, TechniqueID: "T1110"})
		must(t, err)
		if len(p.Tags) != 0 || p.Next != "" {
			t.Errorf("unknown identity: %+v", p)
		}
		raw, err := json.Marshal(p)
		must(t, err)
		if string(raw) != `{"tags":[],"next":""}` {
			t.Errorf("empty page encodes as %s", raw)
		}
	})
}

// TestAnalystDrillDownUsesIndexes asks each backend for the plan of every
// scoped drill-down and fails on a full scan of ttp_tag.
func TestAnalystDrillDownUsesIndexes(t *testing.T) {
	want := loadExpected(t)
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		loadStored(t, s)
		if s.Dialect() == ttprepo.MySQL {
			_, err := s.DB().ExecContext(ctx, "ANALYZE TABLE ttp_tag, attackers, attacker_identities")
			must(t, err, "analyze")
		}
		// The first scope, in id order, that has at least one rollup row:
		// some scopes in expected.json are empty.
		anyKey := func(m map[string][]ttprepo.TechniqueRollup) (string, ttprepo.TechniqueRollup) {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if len(m[k]) > 0 {
					return k, m[k][0]
				}
			}
			t.Fatal("no scope with rows")
			return "", ttprepo.TechniqueRollup{}
		}
		idID, idRow := anyKey(want.ByIdentity)
		atID, atRow := anyKey(want.ByAttacker)
		seID, seRow := anyKey(want.BySession)
		var caID string
		var caRow ttprepo.CampaignTechnique
		for k, v := range want.ByCampaign {
			caID, caRow = k, v[0]
			break
		}
		cursor := "" // the second page's cursor exercises the keyset bound
		queries := map[string]ttprepo.TagQuery{
			"identity":           {Scope: ttprepo.Scope{Kind: ttprepo.ScopeIdentity, ID: idID}, TechniqueID: idRow.TechniqueID, SubTechniqueID: idRow.SubTechniqueID},
			"attacker technique": {Scope: ttprepo.Scope{Kind: ttprepo.ScopeAttacker, ID: atID}, TechniqueID: atRow.TechniqueID, SubTechniqueID: atRow.SubTechniqueID},
			"attacker all":       {Scope: ttprepo.Scope{Kind: ttprepo.ScopeAttacker, ID: atID}},
			"session":            {Scope: ttprepo.Scope{Kind: ttprepo.ScopeSession, ID: seID}, TechniqueID: seRow.TechniqueID, SubTechniqueID: seRow.SubTechniqueID},
			"campaign":           {Scope: ttprepo.Scope{Kind: ttprepo.ScopeCampaign, ID: caID}, TechniqueID: caRow.TechniqueID, SubTechniqueID: caRow.SubTechniqueID},
		}
		p, err := s.ListAttackerTags(ctx, atID, "", 1)
		must(t, err)
		cursor = p.Next
		for name, q := range queries {
			for _, c := range []string{"", cursor} {
				q.Cursor = c
				plan, err := s.ExplainTags(ctx, q)
				must(t, err, "explain", name)
				if len(plan) == 0 {
					t.Fatalf("%s: empty plan", name)
				}
				checkPlan(t, s.Dialect(), name, plan)
			}
		}
	})
}

var sqliteFullScan = regexp.MustCompile(`^SCAN (t|ttp_tag)\b`)

func checkPlan(t *testing.T, d ttprepo.Dialect, name string, plan []string) {
	t.Helper()
	joined := strings.Join(plan, "\n")
	t.Logf("%s plan:\n%s", name, joined)
	usesTagIndex := false
	for _, line := range plan {
		switch d {
		case ttprepo.SQLite:
			if sqliteFullScan.MatchString(line) && !strings.Contains(line, "USING") {
				t.Errorf("%s: full scan of ttp_tag:\n%s", name, joined)
			}
			if strings.Contains(line, "INDEX ttp_tag_") {
				usesTagIndex = true
			}
		case ttprepo.MySQL:
			f := planFields(line)
			if f["table"] != "t" {
				continue
			}
			if f["type"] == "ALL" || f["key"] == "NULL" {
				t.Errorf("%s: full scan of ttp_tag:\n%s", name, joined)
			}
			if strings.HasPrefix(f["key"], "ttp_tag_") {
				usesTagIndex = true
			}
		}
	}
	if !usesTagIndex {
		t.Errorf("%s: no ttp_tag index in the plan:\n%s", name, joined)
	}
}

// planFields splits a MySQL plan line of name=value pairs; values have
// no spaces except Extra, which comes last.
func planFields(line string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(line, " ") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}
