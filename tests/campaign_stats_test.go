package tests

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// campaignWorld is a small fleet that TestCampaignRollupExactUnderChanges
// mutates at random. Every source event has fixed fields, so its tag id
// is fixed and inserting it again is a replay.
type campaignWorld struct {
	campaigns, identities, attackers []string
	pool                             map[string]ttprepo.Tag // by tag uuid
	order                            []string               // pool keys, in a fixed order
}

func newCampaignWorld(r *rand.Rand) *campaignWorld {
	w := &campaignWorld{
		campaigns:  []string{"c1", "c2", "c3"},
		identities: []string{"i1", "i2", "i3", "i4", "i5", "i6"},
		attackers:  []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"},
		pool:       map[string]ttprepo.Tag{},
	}
	// T1078 is listed under two tactics, as in ATT&CK, so a rollup row can
	// gather tags of both.
	techniques := []struct{ tactic, technique, sub string }{
		{"TA0006", "T1110", ""},
		{"TA0006", "T1110", "T1110.001"},
		{"TA0006", "T1110", "T1110.003"},
		{"TA0001", "T1078", ""},
		{"TA0005", "T1078", ""},
		{"TA0007", "T1046", ""},
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for n := range 80 {
		src := fmt.Sprintf("ev-%02d", n)
		tc := techniques[r.IntN(len(techniques))]
		tg := tag(src, 0.9, base.Add(time.Duration(r.IntN(12))*time.Minute)) // ties in created_at
		tg.Tactic, tg.TechniqueID, tg.SubTechniqueID = tc.tactic, tc.technique, nil
		if tc.sub != "" {
			tg.SubTechniqueID = ptr(tc.sub)
		}
		tg.MitreURL = "https://attack.mitre.org/techniques/" + tc.technique + "/"
		tg.AttackerUUID, tg.IdentityUUID = nil, nil
		switch r.IntN(3) {
		case 0:
			tg.AttackerUUID = ptr(w.attackers[r.IntN(len(w.attackers))])
		case 1:
			tg.IdentityUUID = ptr(w.identities[r.IntN(len(w.identities))])
		default:
			tg.AttackerUUID = ptr(w.attackers[r.IntN(len(w.attackers))])
			tg.IdentityUUID = ptr(w.identities[r.IntN(len(w.identities))])
		}
		tg.UUID = ttprepo.TagUUID(tg.SourceKind, src, tg.RuleID, tg.RuleVersion, tg.TechniqueID, tc.sub)
		w.pool[tg.UUID] = tg
		w.order = append(w.order, tg.UUID)
	}
	return w
}

// campaignState is what the database holds, read with plain SQL.
type campaignState struct {
	campaignOf map[string]*string // identity -> campaign
	identityOf map[string]*string // attacker -> identity
	tags       []string           // stored tag ids
}

func readCampaignState(t *testing.T, db *sql.DB) campaignState {
	t.Helper()
	st := campaignState{campaignOf: map[string]*string{}, identityOf: map[string]*string{}}
	pairs := func(q string, into map[string]*string) {
		rows, err := db.Query(q)
		must(t, err, q)
		defer rows.Close()
		for rows.Next() {
			var k string
			var v sql.NullString
			must(t, rows.Scan(&k, &v))
			into[k] = nil
			if v.Valid {
				into[k] = ptr(v.String)
			}
		}
		must(t, rows.Err())
	}
	pairs("SELECT uuid, campaign_id FROM attacker_identities", st.campaignOf)
	pairs("SELECT uuid, identity_id FROM attackers", st.identityOf)
	rows, err := db.Query("SELECT uuid FROM ttp_tag")
	must(t, err)
	defer rows.Close()
	for rows.Next() {
		var id string
		must(t, rows.Scan(&id))
		st.tags = append(st.tags, id)
	}
	must(t, rows.Err())
	slices.Sort(st.tags)
	return st
}

// wantCampaign computes a campaign's rollup from the stored rows: every
// tag anchored on a member identity or on an attacker of one, each tag
// counted once per technique row.
func (w *campaignWorld) wantCampaign(st campaignState, campaign string) []ttprepo.CampaignTechnique {
	type acc struct {
		row        ttprepo.CampaignTechnique
		identities map[string]bool
	}
	member := func(id *string) bool {
		if id == nil {
			return false
		}
		c, ok := st.campaignOf[*id]
		return ok && c != nil && *c == campaign
	}
	groups := map[string]*acc{}
	for _, id := range st.tags {
		tg := w.pool[id]
		var reached []string
		if member(tg.IdentityUUID) {
			reached = append(reached, *tg.IdentityUUID)
		}
		if tg.AttackerUUID != nil {
			if ai := st.identityOf[*tg.AttackerUUID]; member(ai) {
				reached = append(reached, *ai)
			}
		}
		if len(reached) == 0 {
			continue
		}
		sub := ""
		if tg.SubTechniqueID != nil {
			sub = *tg.SubTechniqueID
		}
		key := tg.TechniqueID + "/" + sub
		g := groups[key]
		if g == nil {
			g = &acc{row: ttprepo.CampaignTechnique{TechniqueID: tg.TechniqueID, SubTechniqueID: tg.SubTechniqueID}, identities: map[string]bool{}}
			groups[key] = g
		}
		g.row.Count++
		g.row.Tactic = max(g.row.Tactic, tg.Tactic)
		if tg.CreatedAt.After(g.row.LastSeen) {
			g.row.LastSeen = tg.CreatedAt
		}
		for _, i := range reached {
			g.identities[i] = true
		}
	}
	var out []ttprepo.CampaignTechnique
	for _, g := range groups {
		g.row.IdentityCount = int64(len(g.identities))
		out = append(out, g.row)
	}
	slices.SortFunc(out, func(a, b ttprepo.CampaignTechnique) int { return strings.Compare(campaignRowKey(a), campaignRowKey(b)) })
	return out
}

func campaignRowKey(r ttprepo.CampaignTechnique) string {
	sub := "-"
	if r.SubTechniqueID != nil {
		sub = *r.SubTechniqueID
	}
	return fmt.Sprintf("%s/%s %s n=%d ids=%d last=%s", r.TechniqueID, sub, r.Tactic, r.Count, r.IdentityCount, r.LastSeen.UTC().Format(time.RFC3339Nano))
}

// TestCampaignRollupExactUnderChanges applies a seeded random sequence of
// the changes that move tags in and out of a campaign (tags inserted,
// replayed and deleted; attackers moved between identities, deleted and
// written again; identities moved between campaigns, deleted and written
// again; campaigns deleted; on SQLite, identities deleted through a
// handle with foreign keys off, which leaves tags and attackers pointing
// at them) and after every step compares each campaign's rollup with one
// computed from the stored rows.
func TestCampaignRollupExactUnderChanges(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for seed := range uint64(4) {
				t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
					dsn := b.open(t)
					s := openStore(t, dsn)
					// On SQLite, a second handle with foreign keys off, as
					// in the sqlite3 shell: deletes through it cascade to
					// nothing and leave rows pointing at the deleted one.
					var noFK *sql.DB
					if s.Dialect() == ttprepo.SQLite {
						var err error
						noFK, err = sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=foreign_keys(0)&_pragma=busy_timeout(5000)")
						must(t, err)
						t.Cleanup(func() { noFK.Close() })
					}
					campaignChanges(t, s, noFK, seed)
				})
			}
		})
	}
}

// campaignChanges runs one seeded sequence on s; noFK, when not nil, is a
// handle on the same SQLite file with foreign keys off.
func campaignChanges(t *testing.T, s *ttprepo.Store, noFK *sql.DB, seed uint64) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 11))
	w := newCampaignWorld(r)
	db := s.DB()
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	maybe := func(xs []string) *string {
		if r.IntN(4) == 0 {
			return nil
		}
		return ptr(pick(xs))
	}
	for _, c := range w.campaigns {
		must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: c}))
	}
	for _, i := range w.identities {
		must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: i, CampaignID: maybe(w.campaigns)}))
	}
	for n, a := range w.attackers {
		must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: a, IP: fmt.Sprintf("192.0.2.%d", n+1), IdentityID: maybe(w.identities)}))
	}
	// exists reports whether id is absent or a key of m.
	exists := func(m map[string]*string, id *string) bool {
		if id == nil {
			return true
		}
		_, ok := m[*id]
		return ok
	}
	steps := map[string]int{}
	checked := 0 // comparisons of a campaign with two or more rows
	for step := range 400 {
		st := readCampaignState(t, db)
		var kind string
		switch k := r.IntN(21); {
		case k < 8:
			kind = "insert"
			var batch []ttprepo.Tag
			for range 1 + r.IntN(6) {
				tg := w.pool[pick(w.order)]
				if exists(st.identityOf, tg.AttackerUUID) && exists(st.campaignOf, tg.IdentityUUID) {
					batch = append(batch, tg)
				}
			}
			_, err := s.InsertTags(ctx, batch)
			must(t, err, "step", step, kind)
		case k < 11:
			kind = "delete tag"
			if len(st.tags) > 0 {
				_, err := db.ExecContext(ctx, "DELETE FROM ttp_tag WHERE uuid = ?", pick(st.tags))
				must(t, err, "step", step, kind)
			}
		case k < 14:
			kind = "move attacker"
			a := pick(w.attackers)
			to := maybe(w.identities)
			if exists(st.campaignOf, to) {
				must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: a, IP: "192.0.2.99", IdentityID: to}), "step", step, kind)
			}
		case k < 16:
			kind = "move identity"
			// Every campaign exists: "delete campaign" writes it again.
			must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: pick(w.identities), CampaignID: maybe(w.campaigns)}), "step", step, kind)
		case k < 17:
			kind = "delete attacker"
			_, err := db.ExecContext(ctx, "DELETE FROM attackers WHERE uuid = ?", pick(w.attackers))
			must(t, err, "step", step, kind)
		case k < 18:
			kind = "delete identity"
			_, err := db.ExecContext(ctx, "DELETE FROM attacker_identities WHERE uuid = ?", pick(w.identities))
			must(t, err, "step", step, kind)
		case k < 19:
			kind = "delete campaign"
			c := pick(w.campaigns)
			_, err := db.ExecContext(ctx, "DELETE FROM campaigns WHERE uuid = ?", c)
			must(t, err, "step", step, kind)
			must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: c}))
		case k == 20 && noFK != nil:
			kind = "delete identity, foreign keys off"
			_, err := noFK.ExecContext(ctx, "DELETE FROM attacker_identities WHERE uuid = ?", pick(w.identities))
			must(t, err, "step", step, kind)
		default:
			kind = "retention"
			cut := time.Date(2026, 3, 1, 0, r.IntN(6), 0, 0, time.UTC)
			_, err := s.PurgeTagsBefore(ctx, cut, nil, 1+r.IntN(3))
			must(t, err, "step", step, kind)
		}
		steps[kind]++

		st = readCampaignState(t, db)
		for _, c := range w.campaigns {
			got, err := s.ListTechniquesByCampaign(ctx, c)
			must(t, err)
			want := w.wantCampaign(st, c)
			gotKeys, wantKeys := make([]string, len(got)), make([]string, len(want))
			for n, g := range got {
				gotKeys[n] = campaignRowKey(g)
			}
			for n, g := range want {
				wantKeys[n] = campaignRowKey(g)
			}
			slices.Sort(gotKeys)
			if !slices.Equal(gotKeys, wantKeys) {
				t.Fatalf("step %d (%s), campaign %s:\n got  %q\n want %q", step, kind, c, gotKeys, wantKeys)
			}
			if len(want) >= 2 {
				checked++
			}
		}
	}
	// The sequence must have exercised every kind of change and compared
	// campaigns with tags in them, or the comparisons above proved little.
	kinds := 8
	if noFK != nil {
		kinds++
	}
	if len(steps) != kinds || checked < 200 {
		t.Fatalf("%d kinds of change ran (%v), %d comparisons of campaigns with two or more rows", len(steps), steps, checked)
	}
	t.Logf("steps: %v; %d comparisons of campaigns with two or more rows", steps, checked)
}
