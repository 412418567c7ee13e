package tests

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// analystBench is one analyst read, run on one scope id; prepare picks,
// untimed, what the read needs besides the id (a technique of the scope).
type analystBench struct {
	name  string
	scope string // scope kind the ids come from; "" for fleet-wide
	run   func(ctx context.Context, s *ttprepo.Store, id string, tq ttprepo.TagQuery) (int, error)
}

// firstTechnique returns a drill-down query for the first rollup row of a
// scope.
func firstTechnique(ctx context.Context, s *ttprepo.Store, kind, id string) (ttprepo.TagQuery, error) {
	q := ttprepo.TagQuery{Scope: ttprepo.Scope{Kind: ttprepo.ScopeKind(kind), ID: id}, Limit: 100}
	switch kind {
	case "identity":
		r, err := s.ListTechniquesByIdentity(ctx, id)
		if err != nil || len(r) == 0 {
			return q, fmt.Errorf("identity %s: %d rows, %v", id, len(r), err)
		}
		q.TechniqueID, q.SubTechniqueID = r[0].TechniqueID, r[0].SubTechniqueID
	case "campaign":
		r, err := s.ListTechniquesByCampaign(ctx, id)
		if err != nil || len(r) == 0 {
			return q, fmt.Errorf("campaign %s: %d rows, %v", id, len(r), err)
		}
		q.TechniqueID, q.SubTechniqueID = r[0].TechniqueID, r[0].SubTechniqueID
	}
	return q, nil
}

var analystBenches = []analystBench{
	{"tags_attacker_page", "attacker", func(ctx context.Context, s *ttprepo.Store, id string, _ ttprepo.TagQuery) (int, error) {
		p, err := s.ListAttackerTags(ctx, id, "", 100)
		return len(p.Tags), err
	}},
	{"tags_identity_technique_page", "identity", func(ctx context.Context, s *ttprepo.Store, _ string, q ttprepo.TagQuery) (int, error) {
		p, err := s.ListTags(ctx, q)
		return len(p.Tags), err
	}},
	{"tags_campaign_technique_page", "campaign", func(ctx context.Context, s *ttprepo.Store, _ string, q ttprepo.TagQuery) (int, error) {
		p, err := s.ListTags(ctx, q)
		return len(p.Tags), err
	}},
	{"navigator_identity", "identity", func(ctx context.Context, s *ttprepo.Store, id string, _ ttprepo.TagQuery) (int, error) {
		l, err := s.NavigatorLayer(ctx, ttprepo.Scope{Kind: ttprepo.ScopeIdentity, ID: id})
		return len(l.Techniques), err
	}},
	{"export_all_attackers", "", func(ctx context.Context, s *ttprepo.Store, _ string, _ ttprepo.TagQuery) (int, error) {
		n := 0
		for _, err := range s.ExportAttackerTechniques(ctx) {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}},
}

// BenchmarkAnalyst times the analyst reads on the query benchmarks'
// tables (TTP_BENCH_SMALL and TTP_BENCH_LARGE lines) over scopes of
// typical size, reporting the median and 99th percentile of single
// calls. A scoped read should cost about the same on both tables; the
// export grows with the fleet by design.
func BenchmarkAnalyst(b *testing.B) {
	sizes := []int{benchEnv("TTP_BENCH_SMALL", 100000), benchEnv("TTP_BENCH_LARGE", 1000000)}
	for _, be := range backends(b) {
		for _, lines := range sizes {
			for _, ab := range analystBenches {
				b.Run(fmt.Sprintf("%s/%s/lines=%d", be.name, ab.name, lines), func(b *testing.B) {
					t := openBenchTable(b, be.name, lines)
					ctx := context.Background()
					ids := []string{""}
					if ab.scope != "" {
						ids = t.scopes[ab.scope]
						if len(ids) == 0 {
							b.Fatalf("no %s scope of typical size", ab.scope)
						}
						med, _ := strconv.Atoi(t.scopes[ab.scope+"/median"][0])
						b.ReportMetric(float64(med), "scope-tags")
					}
					qs := make([]ttprepo.TagQuery, len(ids))
					for i, id := range ids {
						if ab.scope == "" {
							continue
						}
						q, err := firstTechnique(ctx, t.store, ab.scope, id)
						if err != nil {
							b.Fatal(err)
						}
						qs[i] = q
					}
					// One untimed pass warms the caches.
					for i, id := range ids {
						if _, err := ab.run(ctx, t.store, id, qs[i]); err != nil {
							b.Fatal(err)
						}
					}
					lat := make(latencies, 0, b.N)
					rows := 0
					b.ReportAllocs()
					b.ResetTimer()
					for i := range b.N {
						start := time.Now()
						n, err := ab.run(ctx, t.store, ids[i%len(ids)], qs[i%len(ids)])
						lat = append(lat, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						rows += n
					}
					b.StopTimer()
					lat.report(b)
					b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
				})
			}
		}
	}
}
