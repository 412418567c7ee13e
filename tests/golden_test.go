package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// expected mirrors testdata/fleet-small/expected.json.
type expected struct {
	InsertedFirstPass  int                                    `json:"inserted_first_pass"`
	InsertedSecondPass int                                    `json:"inserted_second_pass"`
	ByIdentity         map[string][]ttprepo.TechniqueRollup   `json:"by_identity"`
	ByAttacker         map[string][]ttprepo.TechniqueRollup   `json:"by_attacker"`
	BySession          map[string][]ttprepo.TechniqueRollup   `json:"by_session"`
	ByCampaign         map[string][]ttprepo.CampaignTechnique `json:"by_campaign"`
	DeckyPhases        map[string][]ttprepo.PhaseObservation  `json:"decky_phases"`
	DistinctTechniques []ttprepo.FleetTechnique               `json:"distinct_techniques"`
}

const corpusDir = "../testdata/fleet-small/"

func readLines(t testing.TB, path string, fn func(n int, line []byte)) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err, "open", path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fn(n, sc.Bytes())
	}
	must(t, sc.Err(), "read", path)
}

// loadCorpus upserts fleet-small's fleet and returns its tags.
func loadCorpus(t testing.TB, s *ttprepo.Store) []ttprepo.Tag {
	loadFleetFile(t, s, corpusDir+"fleet.jsonl")
	var tags []ttprepo.Tag
	readLines(t, corpusDir+"tags.jsonl", func(n int, line []byte) {
		tag, err := ingest.ParseTagLine(n, line)
		must(t, err, "tag line", n)
		tags = append(tags, tag)
	})
	return tags
}

// loadFleetFile upserts every record of a fleet.jsonl file.
func loadFleetFile(t testing.TB, s *ttprepo.Store, path string) {
	ctx := context.Background()
	readLines(t, path, func(n int, line []byte) {
		r, err := ingest.ParseFleetLine(n, line)
		must(t, err, "fleet line", n)
		switch {
		case r.Campaign != nil:
			must(t, s.UpsertCampaign(ctx, *r.Campaign))
		case r.Identity != nil:
			must(t, s.UpsertIdentity(ctx, *r.Identity))
		case r.Attacker != nil:
			must(t, s.UpsertAttacker(ctx, *r.Attacker))
		}
	})
}

func loadExpected(t testing.TB) expected {
	raw, err := os.ReadFile(corpusDir + "expected.json")
	must(t, err)
	var e expected
	must(t, json.Unmarshal(raw, &e))
	return e
}

func TestGoldenFleetSmall(t *testing.T) {
	want := loadExpected(t)
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		tags := loadCorpus(t, s)

		n, err := s.InsertTags(ctx, tags)
		must(t, err, "first pass")
		if n != want.InsertedFirstPass {
			t.Errorf("first pass inserted %d, want %d", n, want.InsertedFirstPass)
		}
		n, err = s.InsertTags(ctx, tags)
		must(t, err, "second pass")
		if n != want.InsertedSecondPass {
			t.Errorf("second pass inserted %d, want %d", n, want.InsertedSecondPass)
		}

		checkGolden(t, s, want, "")
	})
}

// checkGolden runs every rollup of want on s and compares the answers;
// prefix starts each difference's description.
func checkGolden(t *testing.T, s *ttprepo.Store, want expected, prefix string) {
	t.Helper()
	checkScopes(t, prefix+"identity ", want.ByIdentity, s.ListTechniquesByIdentity)
	checkScopes(t, prefix+"attacker ", want.ByAttacker, s.ListTechniquesByAttacker)
	checkScopes(t, prefix+"session ", want.BySession, s.ListTechniquesBySession)
	checkScopes(t, prefix+"campaign ", want.ByCampaign, s.ListTechniquesByCampaign)
	checkScopes(t, prefix+"phases ", want.DeckyPhases, s.ListDeckyPhases)
	got, err := s.ListDistinctTechniques(context.Background())
	must(t, err)
	compare(t, prefix+"distinct techniques", got, want.DistinctTechniques)
}

// checkScopes calls list for every scope id of want and compares its rows
// with the expected ones; what and the id name each difference.
func checkScopes[R any](t *testing.T, what string, want map[string][]R, list func(context.Context, string) ([]R, error)) {
	t.Helper()
	for id, rows := range want {
		got, err := list(context.Background(), id)
		must(t, err)
		compare(t, what+id, got, rows)
	}
}

// compare checks rows field by field after a JSON round trip, which is how
// expected.json states them (times as RFC 3339 in UTC).
func compare[R any](t *testing.T, what string, got, want []R) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	norm := func(rows []R) []map[string]any {
		raw, err := json.Marshal(rows)
		must(t, err)
		var out []map[string]any
		must(t, json.Unmarshal(raw, &out))
		for _, r := range out {
			for k, v := range r {
				if s, ok := v.(string); ok {
					if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
						r[k] = ts.UTC().Format(time.RFC3339Nano)
					}
				}
			}
		}
		return out
	}
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		for i := range max(len(g), len(w)) {
			var gi, wi map[string]any
			if i < len(g) {
				gi = g[i]
			}
			if i < len(w) {
				wi = w[i]
			}
			if !reflect.DeepEqual(gi, wi) {
				t.Errorf("%s row %d:\n got  %v\n want %v", what, i, gi, wi)
				return
			}
		}
	}
}
