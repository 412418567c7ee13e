package tests

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// queryBench is one read the benchmarks time, run on one scope id.
type queryBench struct {
	name  string
	scope string // scope kind the ids come from; "" for fleet-wide
	run   func(ctx context.Context, t *benchTable, id string) (int, error)
}

var queryBenches = []queryBench{
	{"identity", "identity", func(ctx context.Context, t *benchTable, id string) (int, error) {
		r, err := t.store.ListTechniquesByIdentity(ctx, id)
		return len(r), err
	}},
	{"attacker", "attacker", func(ctx context.Context, t *benchTable, id string) (int, error) {
		r, err := t.store.ListTechniquesByAttacker(ctx, id)
		return len(r), err
	}},
	{"session", "session", func(ctx context.Context, t *benchTable, id string) (int, error) {
		r, err := t.store.ListTechniquesBySession(ctx, id)
		return len(r), err
	}},
	{"campaign", "campaign", func(ctx context.Context, t *benchTable, id string) (int, error) {
		r, err := t.store.ListTechniquesByCampaign(ctx, id)
		return len(r), err
	}},
	{"decky_phases", "identity", func(ctx context.Context, t *benchTable, id string) (int, error) {
		r, err := t.store.ListDeckyPhases(ctx, id)
		return len(r), err
	}},
	{"distinct_techniques", "", func(ctx context.Context, t *benchTable, _ string) (int, error) {
		r, err := t.store.ListDistinctTechniques(ctx)
		return len(r), err
	}},
}

// BenchmarkQuery times every rollup on a table of TTP_BENCH_SMALL lines
// and on one of TTP_BENCH_LARGE lines, over scopes of the same typical
// size (see typicalScopes), and reports the median and 99th percentile
// of the single calls. The ratio of the two tables' medians is the
// flatness: it should stay near 1 for every scoped rollup. Run with
// -benchtime=Nx to time N calls per query.
func BenchmarkQuery(b *testing.B) {
	sizes := []int{benchEnv("TTP_BENCH_SMALL", 100000), benchEnv("TTP_BENCH_LARGE", 1000000)}
	for _, be := range backends(b) {
		for _, lines := range sizes {
			for _, q := range queryBenches {
				b.Run(fmt.Sprintf("%s/%s/lines=%d", be.name, q.name, lines), func(b *testing.B) {
					t := openBenchTable(b, be.name, lines)
					ids := warmScopes(b, q, t)
					ctx := context.Background()
					lat := make(latencies, 0, b.N)
					b.ReportAllocs()
					b.ResetTimer()
					for i := range b.N {
						start := time.Now()
						n, err := q.run(ctx, t, ids[i%len(ids)])
						lat = append(lat, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						if n == 0 && q.scope != "" {
							b.Fatalf("%s %s: empty rollup", q.name, ids[i%len(ids)])
						}
					}
					b.StopTimer()
					lat.report(b)
					// Reported after the loop: ResetTimer drops metrics
					// reported before it.
					if q.scope != "" {
						med, _ := strconv.Atoi(t.scopes[q.scope+"/median"][0])
						b.ReportMetric(float64(med), "scope-tags")
					}
				})
			}
		}
	}
}

// BenchmarkFlatness times every rollup on the TTP_BENCH_SMALL and the
// TTP_BENCH_LARGE table in alternation, one call on each per iteration,
// so that whatever slows the machine down for a while slows both tables
// alike, and reports both medians and their ratio ("flatness", the large
// table's median over the small one's). BenchmarkQuery times the tables
// one after the other, minutes apart, and its ratios carry the machine's
// drift as well. Run with -benchtime=Nx for N calls on each table.
func BenchmarkFlatness(b *testing.B) {
	small, large := benchEnv("TTP_BENCH_SMALL", 100000), benchEnv("TTP_BENCH_LARGE", 1000000)
	for _, be := range backends(b) {
		for _, q := range queryBenches {
			b.Run(fmt.Sprintf("%s/%s", be.name, q.name), func(b *testing.B) {
				tables := []*benchTable{openBenchTable(b, be.name, small), openBenchTable(b, be.name, large)}
				ids := [][]string{warmScopes(b, q, tables[0]), warmScopes(b, q, tables[1])}
				ctx := context.Background()
				lat := alternate(b, func(i, n int) error {
					id := ids[i][n%len(ids[i])]
					rows, err := q.run(ctx, tables[i], id)
					if err == nil && rows == 0 && q.scope != "" {
						err = fmt.Errorf("%s %s: empty rollup", q.name, id)
					}
					return err
				})
				med := [2]float64{lat[0].median(), lat[1].median()}
				b.ReportMetric(med[0], "small-median-us")
				b.ReportMetric(med[1], "large-median-us")
				b.ReportMetric(med[1]/med[0], "flatness")
			})
		}
	}
}

// alternate times b.N calls of call(0, n) and of call(1, n), n counting
// from 0, one of each per iteration, alternating which goes first so that
// neither always follows the other, and returns the latencies of each. A
// call's error ends the benchmark.
func alternate(b *testing.B, call func(i, n int) error) [2]latencies {
	lat := [2]latencies{make(latencies, 0, b.N), make(latencies, 0, b.N)}
	b.ResetTimer()
	for n := range b.N {
		for k := range 2 {
			i := (n + k) % 2
			start := time.Now()
			err := call(i, n)
			lat[i] = append(lat[i], time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	return lat
}

// warmScopes returns the ids q is timed on in t (one empty id for a
// fleet-wide query) after one untimed call on each, which warms the
// caches the timed calls will also find warm.
func warmScopes(b *testing.B, q queryBench, t *benchTable) []string {
	ids := []string{""}
	if q.scope != "" {
		ids = t.scopes[q.scope]
		if len(ids) == 0 {
			b.Fatalf("no %s scope of typical size in the %d-line table", q.scope, t.lines)
		}
	}
	for _, id := range ids {
		if _, err := q.run(context.Background(), t, id); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}
