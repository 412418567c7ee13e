package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ttpstore/ttpstore/ttprepo"
)

var techniqueIDPattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// checkLayerFile writes a layer to a file, reads it back as generic JSON
// to check the fields format 4.5 requires, and as a NavigatorLayer to
// check it round-trips to the same values.
func checkLayerFile(t *testing.T, layer ttprepo.NavigatorLayer) map[string]any {
	t.Helper()
	raw, err := json.MarshalIndent(layer, "", "  ")
	must(t, err)
	file := filepath.Join(t.TempDir(), "layer.json")
	must(t, os.WriteFile(file, raw, 0o644))
	raw, err = os.ReadFile(file)
	must(t, err)

	var back ttprepo.NavigatorLayer
	must(t, json.Unmarshal(raw, &back), "load layer")
	if !reflect.DeepEqual(back, layer) {
		t.Errorf("layer does not round-trip:\n%+v\n%+v", back, layer)
	}

	var doc map[string]any
	must(t, json.Unmarshal(raw, &doc))
	for _, k := range []string{"name", "domain", "versions", "techniques", "gradient"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("layer has no %q", k)
		}
	}
	if doc["domain"] != "enterprise-attack" {
		t.Errorf("domain %v", doc["domain"])
	}
	if name, _ := doc["name"].(string); name == "" {
		t.Error("empty layer name")
	}
	v, _ := doc["versions"].(map[string]any)
	if v["layer"] != "4.5" || v["navigator"] == nil || v["navigator"] == "" {
		t.Errorf("versions %v", v)
	}
	g, _ := doc["gradient"].(map[string]any)
	colors, _ := g["colors"].([]any)
	minV, _ := g["minValue"].(float64)
	maxV, _ := g["maxValue"].(float64)
	if len(colors) < 2 || !(maxV > minV) {
		t.Errorf("gradient %v", g)
	}
	techs, ok := doc["techniques"].([]any)
	if !ok {
		t.Fatalf("techniques is %T, want an array", doc["techniques"])
	}
	for _, x := range techs {
		m, _ := x.(map[string]any)
		id, _ := m["techniqueID"].(string)
		if !techniqueIDPattern.MatchString(id) {
			t.Errorf("techniqueID %q", id)
		}
	}
	for _, x := range doc["legendItems"].([]any) {
		m, _ := x.(map[string]any)
		if m["label"] == "" || m["color"] == "" {
			t.Errorf("legend item %v", m)
		}
	}
	return doc
}

func TestAnalystNavigatorLayers(t *testing.T) {
	want := loadExpected(t)
	var same sameAnswers
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		stored := loadStored(t, s)
		layers := map[string]ttprepo.NavigatorLayer{}

		check := func(scope ttprepo.Scope, rows []ttprepo.TechniqueRollup) {
			layer, err := s.NavigatorLayer(ctx, scope)
			must(t, err, "layer", scope)
			checkLayerFile(t, layer)
			layers[scope.String()] = layer
			if len(layer.Techniques) != len(rows) {
				t.Errorf("%s: %d entries, %d rollup rows", scope, len(layer.Techniques), len(rows))
				return
			}
			for i, r := range rows {
				e := layer.Techniques[i]
				id := r.TechniqueID
				if r.SubTechniqueID != nil {
					id = *r.SubTechniqueID
				}
				first := r.FirstSeen.Format("2006-01-02T15:04:05.000000Z")
				last := r.LastSeen.Format("2006-01-02T15:04:05.000000Z")
				if e.TechniqueID != id || e.Score != r.Count || !strings.Contains(e.Comment, first) || !strings.Contains(e.Comment, last) {
					t.Errorf("%s: entry %+v, rollup %+v", scope, e, r)
				}
			}
			// The corpus's tags are all of release 15.1.
			wantAttack := "15"
			if len(rows) == 0 {
				wantAttack = ""
			}
			if layer.Versions.Attack != wantAttack {
				t.Errorf("%s: versions.attack %q, want %q", scope, layer.Versions.Attack, wantAttack)
			}
		}
		for id, rows := range want.ByIdentity {
			check(ttprepo.Scope{Kind: ttprepo.ScopeIdentity, ID: id}, rows)
		}
		for id, rows := range want.ByAttacker {
			check(ttprepo.Scope{Kind: ttprepo.ScopeAttacker, ID: id}, rows)
		}
		for id, rows := range want.BySession {
			check(ttprepo.Scope{Kind: ttprepo.ScopeSession, ID: id}, rows)
		}

		// Campaign and fleet rollups carry no first_seen; check the
		// counts, and that scores sum to the scope's tags.
		for id, rows := range want.ByCampaign {
			layer, err := s.NavigatorLayer(ctx, ttprepo.Scope{Kind: ttprepo.ScopeCampaign, ID: id})
			must(t, err)
			checkLayerFile(t, layer)
			layers["campaign "+id] = layer
			if len(layer.Techniques) != len(rows) {
				t.Fatalf("campaign %s: %d entries, %d rollup rows", id, len(layer.Techniques), len(rows))
			}
			for i, r := range rows {
				if layer.Techniques[i].Score != r.Count {
					t.Errorf("campaign %s: entry %+v, rollup %+v", id, layer.Techniques[i], r)
				}
			}
		}
		fleet, err := s.NavigatorLayer(ctx, ttprepo.Scope{})
		must(t, err)
		checkLayerFile(t, fleet)
		layers["fleet"] = fleet
		var total int64
		for _, e := range fleet.Techniques {
			total += e.Score
		}
		if total != int64(len(stored)) {
			t.Errorf("fleet scores sum to %d, %d tags stored", total, len(stored))
		}

		// A scope with no tags gives a valid layer with no techniques.
		empty, err := s.NavigatorLayer(ctx, ttprepo.Scope{Kind: ttprepo.ScopeIdentity, ID: "no-such-identity"})
		must(t, err)
		doc := checkLayerFile(t, empty)
		if techs := doc["techniques"].([]any); len(techs) != 0 {
			t.Errorf("empty scope: %d techniques", len(techs))
		}
		if _, ok := doc["versions"].(map[string]any)["attack"]; ok {
			t.Error("empty scope names an ATT&CK version")
		}
		if _, err := s.NavigatorLayer(ctx, ttprepo.Scope{Kind: "galaxy", ID: "x"}); err == nil {
			t.Error("unknown scope kind accepted")
		}
		same.record(t, layers)
	})
	same.check(t)
}
