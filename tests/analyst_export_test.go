package tests

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// TestAnalystExportAttackerTechniques checks the streamed export against
// ListTechniquesByAttacker for every attacker, and that breaking out of
// the loop releases the query.
func TestAnalystExportAttackerTechniques(t *testing.T) {
	var same sameAnswers
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		stored := loadStored(t, s)
		attackers := map[string]bool{}
		for _, tg := range stored {
			if tg.AttackerUUID != nil {
				attackers[*tg.AttackerUUID] = true
			}
		}

		got := map[string][]ttprepo.TechniqueRollup{}
		var order []string
		var rows []ttprepo.AttackerTechnique
		for r, err := range s.ExportAttackerTechniques(ctx) {
			must(t, err, "export")
			if len(order) == 0 || order[len(order)-1] != r.AttackerUUID {
				if _, seen := got[r.AttackerUUID]; seen {
					t.Fatalf("attacker %s comes back after another attacker", r.AttackerUUID)
				}
				order = append(order, r.AttackerUUID)
			}
			got[r.AttackerUUID] = append(got[r.AttackerUUID], r.TechniqueRollup)
			rows = append(rows, r)
		}
		if len(got) != len(attackers) {
			t.Errorf("export covers %d attackers, %d have tags", len(got), len(attackers))
		}
		for id := range attackers {
			want, err := s.ListTechniquesByAttacker(ctx, id)
			must(t, err)
			if !reflect.DeepEqual(got[id], want) {
				t.Errorf("attacker %s: export\n%+v\nrollup\n%+v", id, got[id], want)
			}
		}
		for i := 1; i < len(order); i++ {
			if order[i-1] >= order[i] {
				t.Errorf("attackers out of order: %s before %s", order[i-1], order[i])
			}
		}
		same.record(t, rows)

		// Stop after three rows; the store must still answer, so the
		// query's connection went back to the pool.
		n := 0
		for _, err := range s.ExportAttackerTechniques(ctx) {
			must(t, err)
			n++
			if n == 3 {
				break
			}
		}
		if _, err := s.CountTags(ctx); err != nil {
			t.Fatalf("store after an early break: %v", err)
		}

		// A cancelled context ends the sequence with its error.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		var last error
		for _, err := range s.ExportAttackerTechniques(cctx) {
			last = err
		}
		if !errors.Is(last, context.Canceled) {
			t.Errorf("cancelled export ended with %v", last)
		}
	})
	same.check(t)
}
