package tests

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/internal/fleetgen"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// processCPU returns the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngest writes a generated stream (replays and below-floor
// lines included) into a fresh store per iteration, in InsertTags calls
// of TTP_BENCH_BATCH tags, and reports lines per second. "insert" times
// InsertTags alone; "parse+insert" also times ingest.ParseTagLine, which
// is what ttpctl ingest does per line. Generating the stream is never
// timed. Run with -benchtime=1x: one iteration is a whole stream.
func BenchmarkIngest(b *testing.B) {
	lines := benchEnv("TTP_BENCH_INGEST_LINES", 200000)
	batch := benchEnv("TTP_BENCH_BATCH", 10000)
	for _, be := range backends(b) {
		for _, mode := range []string{"insert", "parse+insert"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				cfg := benchConfig(b, lines)
				var busy, cpu time.Duration
				for range b.N {
					b.StopTimer()
					s := openBenchStore(b, be.name, be.open(b))
					f, err := fleetgen.NewFleet(cfg)
					must(b, err)
					loadFleet(b, s, f)
					st, err := fleetgen.NewStream(f, cfg)
					must(b, err)
					var (
						raw    [][]byte
						tags   []ttprepo.Tag
						lineNo int
						ok     bool
					)
					for {
						raw, ok = nextBatch(st, batch, raw)
						if !ok {
							break
						}
						if mode == "insert" {
							tags = parseBatch(b, raw, &lineNo, tags)
						}
						start, cpuStart := time.Now(), processCPU()
						b.StartTimer()
						if mode != "insert" {
							tags = parseBatch(b, raw, &lineNo, tags)
						}
						_, err := s.InsertTags(context.Background(), tags)
						b.StopTimer()
						busy += time.Since(start)
						cpu += processCPU() - cpuStart
						must(b, err, "insert tags")
					}
				}
				b.ReportMetric(float64(lines*b.N)/busy.Seconds(), "lines/s")
				// CPU seconds of this process (user and system) are far less
				// disturbed by other work on a shared machine than wall time;
				// for MySQL they leave out the server's share.
				b.ReportMetric(float64(lines*b.N)/cpu.Seconds(), "lines/cpu-s")
			})
		}
	}
}
