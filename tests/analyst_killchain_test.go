package tests

import (
	"context"
	"testing"

	"github.com/ttpstore/ttpstore/ttprepo"
)

func TestAnalystUKCMap(t *testing.T) {
	phases := ttprepo.UKCPhases()
	if len(phases) != 18 {
		t.Fatalf("%d phases, want 18", len(phases))
	}
	cycles := map[string]int{}
	for i, p := range phases {
		if p.Order != i+1 || p.Name == "" {
			t.Errorf("phase %d: %+v", i+1, p)
		}
		cycles[p.Cycle]++
	}
	if cycles["In"] != 8 || cycles["Through"] != 6 || cycles["Out"] != 4 {
		t.Errorf("cycles %v, want In 8, Through 6, Out 4", cycles)
	}
	want := map[string]string{
		"TA0043": "Reconnaissance", "TA0042": "Resource Development", "TA0001": "Delivery",
		"TA0002": "Execution", "TA0003": "Persistence", "TA0004": "Privilege Escalation",
		"TA0005": "Defense Evasion", "TA0006": "Credential Access", "TA0007": "Discovery",
		"TA0008": "Lateral Movement", "TA0009": "Collection", "TA0011": "Command & Control",
		"TA0010": "Exfiltration", "TA0040": "Impact",
		"TA0100": "Collection", "TA0102": "Discovery", "TA0105": "Impact", "TA0106": "Impact",
	}
	for tactic, name := range want {
		p, ok := ttprepo.UKCPhase(tactic)
		if !ok || p.Name != name {
			t.Errorf("%s: phase %+v (known %v), want %s", tactic, p, ok, name)
		}
	}
	if p, ok := ttprepo.UKCPhase("TA9999"); ok || p.Order != 0 {
		t.Errorf("unknown tactic: %+v, %v", p, ok)
	}
}

// TestAnalystKillChainByIdentity rebuilds each identity's per-decky
// summary from expected.json's decky_phases and compares.
func TestAnalystKillChainByIdentity(t *testing.T) {
	want := loadExpected(t)
	var same sameAnswers
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		loadStored(t, s)
		all := map[string]ttprepo.KillChain{}
		checked := 0
		for id, obs := range want.DeckyPhases {
			kc, err := s.KillChainByIdentity(ctx, id)
			must(t, err)
			all[id] = kc
			if len(kc.Steps) != len(obs) {
				t.Fatalf("identity %s: %d steps, %d observations", id, len(kc.Steps), len(obs))
			}
			type sum struct {
				n           int
				first, last ttprepo.PhaseObservation
				furthest    int
			}
			sums := map[string]*sum{}
			for i, o := range obs {
				st := kc.Steps[i]
				if st.DeckyID != o.DeckyID || st.Tactic != o.Tactic || !st.CreatedAt.Equal(o.CreatedAt) {
					t.Errorf("identity %s step %d: %+v, want %+v", id, i, st, o)
				}
				p, _ := ttprepo.UKCPhase(o.Tactic)
				if st.Phase != p {
					t.Errorf("identity %s step %d: phase %+v, want %+v", id, i, st.Phase, p)
				}
				x := sums[o.DeckyID]
				if x == nil {
					x = &sum{first: o}
					sums[o.DeckyID] = x
				}
				x.n++
				x.last = o
				x.furthest = max(x.furthest, p.Order)
			}
			if len(kc.Deckies) != len(sums) {
				t.Errorf("identity %s: %d deckies, want %d", id, len(kc.Deckies), len(sums))
			}
			for i, d := range kc.Deckies {
				if i > 0 && kc.Deckies[i-1].DeckyID >= d.DeckyID {
					t.Errorf("identity %s: deckies out of order", id)
				}
				x := sums[d.DeckyID]
				if x == nil {
					t.Errorf("identity %s: unexpected decky %s", id, d.DeckyID)
					continue
				}
				fp, _ := ttprepo.UKCPhase(x.first.Tactic)
				lp, _ := ttprepo.UKCPhase(x.last.Tactic)
				if d.Observations != x.n || !d.FirstSeen.Equal(x.first.CreatedAt) || !d.LastSeen.Equal(x.last.CreatedAt) ||
					d.FirstTactic != x.first.Tactic || d.LastTactic != x.last.Tactic ||
					d.FirstPhase != fp || d.LastPhase != lp || d.FurthestPhase.Order != x.furthest {
					t.Errorf("identity %s decky %s: %+v, want %d obs first %+v last %+v furthest %d", id, d.DeckyID, d, x.n, x.first, x.last, x.furthest)
				}
				checked++
			}
		}
		if checked == 0 {
			t.Fatal("no decky summaries checked")
		}
		same.record(t, all)
	})
	same.check(t)
}
