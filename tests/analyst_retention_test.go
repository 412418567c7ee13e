package tests

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// fleetFrom recomputes ListDistinctTechniques from tags.
func fleetFrom(tags []ttprepo.Tag) []ttprepo.FleetTechnique {
	byKey := map[[2]string]*ttprepo.FleetTechnique{}
	var out []*ttprepo.FleetTechnique
	for _, tg := range tags {
		k := [2]string{tg.TechniqueID, subKey(tg.SubTechniqueID)}
		f := byKey[k]
		if f == nil {
			f = &ttprepo.FleetTechnique{TechniqueID: tg.TechniqueID, SubTechniqueID: tg.SubTechniqueID}
			byKey[k] = f
			out = append(out, f)
		}
		f.Count++
		f.Tactic = max(f.Tactic, tg.Tactic)
		if tg.CreatedAt.After(f.LastSeen) {
			f.LastSeen = tg.CreatedAt
		}
	}
	sub := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	slices.SortFunc(out, func(a, b *ttprepo.FleetTechnique) int {
		return cmp.Or(cmp.Compare(a.TechniqueID, b.TechniqueID), cmp.Compare(sub(a.SubTechniqueID), sub(b.SubTechniqueID)))
	})
	res := make([]ttprepo.FleetTechnique, len(out))
	for i, f := range out {
		res[i] = *f
	}
	return res
}

func TestAnalystPurge(t *testing.T) {
	var same sameAnswers
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		stored := loadStored(t, s)
		slices.SortFunc(stored, func(a, b ttprepo.Tag) int { return a.CreatedAt.Compare(b.CreatedAt) })

		// A cutoff one nanosecond after a stored instant keeps nothing of
		// that instant: it is rounded up, never down, to the microsecond.
		mid := stored[len(stored)/2].CreatedAt
		cutoff := mid.Add(time.Nanosecond)
		var before, after []ttprepo.Tag
		for _, tg := range stored {
			if tg.CreatedAt.Before(cutoff) {
				before = append(before, tg)
			} else {
				after = append(after, tg)
			}
		}
		if len(before) == 0 || len(after) == 0 {
			t.Fatal("cutoff splits nothing")
		}

		other := "99.0"
		n, err := s.CountTagsBefore(ctx, cutoff, &other)
		must(t, err)
		if n != 0 {
			t.Errorf("dry run for release %s: %d", other, n)
		}
		n, err = s.PurgeTagsBefore(ctx, cutoff, &other, 10)
		must(t, err)
		if n != 0 {
			t.Errorf("purge of release %s deleted %d", other, n)
		}

		dry, err := s.CountTagsBefore(ctx, cutoff, nil)
		must(t, err)
		if dry != int64(len(before)) {
			t.Errorf("dry run: %d, %d tags are older", dry, len(before))
		}
		if c, _ := s.CountTags(ctx); c != int64(len(stored)) {
			t.Errorf("dry run deleted: %d tags left of %d", c, len(stored))
		}

		// Batches of 37 leave a short last batch; the release filter
		// names the corpus's one release.
		rel := "15.1"
		n, err = s.PurgeTagsBefore(ctx, cutoff, &rel, 37)
		must(t, err)
		if n != int64(len(before)) {
			t.Errorf("purge deleted %d, want %d", n, len(before))
		}
		left, err := s.CountTags(ctx)
		must(t, err)
		if left != int64(len(after)) {
			t.Errorf("%d tags left, want %d", left, len(after))
		}
		fleet, err := s.ListDistinctTechniques(ctx)
		must(t, err)
		compare(t, "distinct techniques after purge", fleet, fleetFrom(after))
		n, err = s.PurgeTagsBefore(ctx, cutoff, nil, 37)
		must(t, err)
		if n != 0 {
			t.Errorf("second purge deleted %d", n)
		}

		// A batch that divides the count exactly ends on an empty batch.
		cut2 := after[len(after)/2].CreatedAt.Add(time.Microsecond)
		var gone int64
		for _, tg := range after {
			if tg.CreatedAt.Before(cut2) {
				gone++
			}
		}
		n, err = s.PurgeTagsBefore(ctx, cut2, nil, int(gone))
		must(t, err)
		if n != gone {
			t.Errorf("purge by one exact batch deleted %d, want %d", n, gone)
		}
		fleet, err = s.ListDistinctTechniques(ctx)
		must(t, err)
		compare(t, "distinct techniques after second purge", fleet, fleetFrom(after[gone:]))
		same.record(t, fleet)

		for _, bad := range []struct {
			cutoff time.Time
			batch  int
		}{{time.Time{}, 10}, {cutoff, 0}, {cutoff, -5}} {
			if _, err := s.PurgeTagsBefore(ctx, bad.cutoff, nil, bad.batch); !errors.Is(err, ttprepo.ErrInvalidInput) {
				t.Errorf("purge(%v, %d): %v", bad.cutoff, bad.batch, err)
			}
		}
	})
	same.check(t)
}
