package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// techniqueMix is what the concurrent writers tag, so that the fleet-wide
// stats have several rows to contend on.
var techniqueMix = []struct{ tactic, tech, sub string }{
	{"TA0006", "T1110", "T1110.001"},
	{"TA0006", "T1110", ""},
	{"TA0007", "T1046", ""},
	{"TA0002", "T1059", "T1059.004"},
	{"TA0011", "T1071", "T1071.001"},
	{"TA0001", "T1190", ""},
}

// concurrentTag returns tag i of a named set: every tenth falls below the
// confidence floor and is not kept.
func concurrentTag(set string, i int) ttprepo.Tag {
	m := techniqueMix[i%len(techniqueMix)]
	src := fmt.Sprintf("%s-%d", set, i)
	var sub *string
	if m.sub != "" {
		sub = ptr(m.sub)
	}
	conf := 0.75
	if i%10 == 0 {
		conf = 0.2
	}
	return ttprepo.Tag{
		UUID:       ttprepo.TagUUID("session", src, "R0001", 1, m.tech, m.sub),
		SourceKind: "session", SourceID: src,
		AttackerUUID: ptr([]string{"a1", "a2", "a3"}[i%3]),
		SessionID:    ptr(fmt.Sprintf("s%d", i%50)),
		DeckyID:      ptr("decky-01"),
		Tactic:       m.tactic, TechniqueID: m.tech, SubTechniqueID: sub,
		Confidence: conf, RuleID: "R0001", RuleVersion: 1,
		Evidence:      json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`),
		AttackRelease: "15.1", MitreURL: "https://attack.mitre.org/",
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%100000) * time.Millisecond),
	}
}

// concurrentLoad is the work of the writers: each gets its own tags and
// all of the shared ones, in its own order.
type concurrentLoad struct {
	perWriter [][]ttprepo.Tag
	kept      map[string]ttprepo.Tag // distinct ids at or above the floor
}

func newConcurrentLoad(writers, perWriter int) concurrentLoad {
	shared := make([]ttprepo.Tag, perWriter/2)
	for i := range shared {
		shared[i] = concurrentTag("shared", i)
	}
	l := concurrentLoad{kept: map[string]ttprepo.Tag{}}
	for w := range writers {
		tags := append([]ttprepo.Tag(nil), shared...)
		for i := range perWriter - len(shared) {
			tags = append(tags, concurrentTag(fmt.Sprintf("own%d", w), i))
		}
		rand.New(rand.NewPCG(uint64(w), 1)).Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
		for _, tg := range tags {
			if tg.Confidence >= ttprepo.ConfidenceFloor {
				l.kept[tg.UUID] = tg
			}
		}
		l.perWriter = append(l.perWriter, tags)
	}
	return l
}

// run has every writer insert its tags in batches at the same time as two
// readers query, through the store that storeFor returns for each.
func (l concurrentLoad) run(t *testing.T, storeFor func(i int) *ttprepo.Store) {
	t.Helper()
	ctx := context.Background()
	const batch = 500
	var (
		writers  sync.WaitGroup
		readers  sync.WaitGroup
		done     atomic.Bool
		inserted atomic.Int64
		reads    atomic.Int64
		errs     = make(chan error, 64)
	)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	start := time.Now()
	for w, tags := range l.perWriter {
		writers.Add(1)
		go func() {
			defer writers.Done()
			s := storeFor(w)
			for lo := 0; lo < len(tags); lo += batch {
				n, err := s.InsertTags(ctx, tags[lo:min(lo+batch, len(tags))])
				if err != nil {
					report(fmt.Errorf("writer %d batch at %d: %w", w, lo, err))
					return
				}
				inserted.Add(int64(n))
			}
		}()
	}
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s := storeFor(len(l.perWriter) + r)
			for !done.Load() {
				if _, err := s.CountTags(ctx); err != nil {
					report(fmt.Errorf("reader %d count: %w", r, err))
					return
				}
				if _, err := s.ListDistinctTechniques(ctx); err != nil {
					report(fmt.Errorf("reader %d distinct: %w", r, err))
					return
				}
				if _, err := s.ListTechniquesByIdentity(ctx, "i1"); err != nil {
					report(fmt.Errorf("reader %d identity: %w", r, err))
					return
				}
				reads.Add(1)
			}
		}()
	}
	writers.Wait()
	done.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d writers, %d tags each: %d kept in %s; readers ran %d rounds",
		len(l.perWriter), len(l.perWriter[0]), inserted.Load(), time.Since(start).Round(time.Millisecond), reads.Load())
	if reads.Load() == 0 {
		t.Error("the readers never completed a round while the writers ran")
	}

	// Rows newly written, as the writers counted them, are the distinct
	// kept tags: a shared tag is written by exactly one writer.
	if got := inserted.Load(); got != int64(len(l.kept)) {
		t.Errorf("writers report %d rows written, want %d", got, len(l.kept))
	}
	l.verify(t, storeFor(0))
}

// verify checks the count and the fleet-wide stats against the kept tags.
func (l concurrentLoad) verify(t *testing.T, s *ttprepo.Store) {
	t.Helper()
	ctx := context.Background()
	n, err := s.CountTags(ctx)
	must(t, err, "count")
	if n != int64(len(l.kept)) {
		t.Errorf("count %d, want %d distinct kept tags", n, len(l.kept))
	}

	type key struct{ tech, sub, tactic string }
	wantCount := map[key]int64{}
	wantLast := map[key]time.Time{}
	for _, tg := range l.kept {
		k := key{tg.TechniqueID, "", tg.Tactic}
		if tg.SubTechniqueID != nil {
			k.sub = *tg.SubTechniqueID
		}
		wantCount[k]++
		if tg.CreatedAt.After(wantLast[k]) {
			wantLast[k] = tg.CreatedAt
		}
	}
	stats, err := s.ListDistinctTechniques(ctx)
	must(t, err, "distinct techniques")
	var sum int64
	for _, st := range stats {
		k := key{st.TechniqueID, "", st.Tactic}
		if st.SubTechniqueID != nil {
			k.sub = *st.SubTechniqueID
		}
		sum += st.Count
		if st.Count != wantCount[k] || !st.LastSeen.Equal(wantLast[k]) {
			t.Errorf("stats %v: count %d last %s, want %d %s", k, st.Count, st.LastSeen, wantCount[k], wantLast[k])
		}
		delete(wantCount, k)
	}
	if sum != n {
		t.Errorf("stats counts sum to %d, tag count is %d", sum, n)
	}
	if len(wantCount) != 0 {
		t.Errorf("stats miss %v", wantCount)
	}
}

// concurrencySize is the full load (8 writers of 20,000 tags), or a tenth
// of it with -short. The shared-store variants always run the tenth: the
// separate-store ones, which contend harder (one pool each, as separate
// processes would have), carry the full load, and running it twice more
// would double the suite's time for little more coverage.
func concurrencySize(full bool) (writers, perWriter int) {
	if testing.Short() || !full {
		return 8, 2000
	}
	return 8, 20000
}

// TestConcurrentWritersSeparateStores has each writer and reader open the
// database on its own, as separate processes would, on each backend.
func TestConcurrentWritersSeparateStores(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.open(t)
			first := openStore(t, dsn)
			fleet(t, first)
			load := newConcurrentLoad(concurrencySize(true))
			stores := make([]*ttprepo.Store, len(load.perWriter)+2)
			for i := range stores {
				s, err := ttprepo.Open(context.Background(), dsn)
				must(t, err, "open", i)
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			load.run(t, func(i int) *ttprepo.Store { return stores[i] })
			if first.Dialect() == ttprepo.SQLite {
				checkSQLiteIntegrity(t, first)
			}
		})
	}
}

// TestConcurrentWritersSharedStore has every writer and reader share one
// store, on each backend.
func TestConcurrentWritersSharedStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		fleet(t, s)
		load := newConcurrentLoad(concurrencySize(false))
		load.run(t, func(int) *ttprepo.Store { return s })
		if s.Dialect() == ttprepo.SQLite {
			checkSQLiteIntegrity(t, s)
		}
	})
}

// checkSQLiteIntegrity runs SQLite's own consistency checks.
func checkSQLiteIntegrity(t *testing.T, s *ttprepo.Store) {
	t.Helper()
	var res string
	must(t, s.DB().QueryRow("PRAGMA integrity_check").Scan(&res), "integrity_check")
	if res != "ok" {
		t.Errorf("integrity_check: %s", res)
	}
	rows, err := s.DB().Query("PRAGMA foreign_key_check")
	must(t, err, "foreign_key_check")
	defer rows.Close()
	if rows.Next() {
		t.Error("foreign_key_check reports violations")
	}
}

// TestConcurrentOpenOfNewSQLiteFile opens and migrates one SQLite file
// that does not exist yet from several stores at the same moment, as two
// `ttpctl ingest` runs started together do. SQLite fails one of two
// connections that both want to switch a new file to WAL at once with
// SQLITE_BUSY, without waiting; every Open must still succeed.
func TestConcurrentOpenOfNewSQLiteFile(t *testing.T) {
	ctx := context.Background()
	const rounds, openers = 50, 6
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("new-%d.db", round))
		start := make(chan struct{})
		errs := make(chan error, openers)
		var wg sync.WaitGroup
		for range openers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s, err := ttprepo.Open(ctx, "sqlite:"+path)
				if err == nil {
					_, err = s.Migrate(ctx)
					s.Close()
				}
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
