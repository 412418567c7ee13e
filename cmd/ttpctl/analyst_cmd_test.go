package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// TestAnalystCommands runs tags, phases, navigator and purge on
// fleet-small and checks them against the rollups of the same database.
func TestAnalystCommands(t *testing.T) {
	var want struct {
		ByAttacker  map[string][]struct{ Count int } `json:"by_attacker"`
		DeckyPhases map[string][]struct {
			DeckyID string `json:"decky_id"`
			Tactic  string `json:"tactic"`
		} `json:"decky_phases"`
	}
	raw, err := os.ReadFile(corpus + "expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}

	for name, fresh := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			dsn := fresh(t)
			if code, out, errOut := ttpctl(t, dsn, "", "ingest", "--fleet", corpus+"fleet.jsonl", corpus+"tags.jsonl"); code != 0 {
				t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
			}

			// tags: paging through an attacker's tags finds as many as its
			// rollup rows count.
			for attacker, rows := range want.ByAttacker {
				total := 0
				for _, r := range rows {
					total += r.Count
				}
				seen, cursor := 0, ""
				for page := 0; page < 100; page++ {
					args := []string{"tags", "--attacker", attacker, "--limit", "7", "--json"}
					if cursor != "" {
						args = append(args, "--cursor", cursor)
					}
					code, out, errOut := ttpctl(t, dsn, "", args...)
					if code != 0 {
						t.Fatalf("tags: exit %d: %s", code, errOut)
					}
					var p struct {
						Tags []json.RawMessage `json:"tags"`
						Next string            `json:"next"`
					}
					if err := json.Unmarshal([]byte(out), &p); err != nil {
						t.Fatalf("tags --json: %v\n%s", err, out)
					}
					seen += len(p.Tags)
					if cursor = p.Next; cursor == "" {
						break
					}
				}
				if seen != total {
					t.Errorf("attacker %s: tags pages hold %d tags, rollups count %d", attacker, seen, total)
				}
				break // one attacker is enough here; the suites cover all
			}

			// phases: the observations are expected.json's decky phases.
			for identity, rows := range want.DeckyPhases {
				code, out, errOut := ttpctl(t, dsn, "", "phases", identity, "--json")
				if code != 0 {
					t.Fatalf("phases: exit %d: %s", code, errOut)
				}
				var got struct {
					Observations []struct {
						DeckyID string `json:"decky_id"`
						Tactic  string `json:"tactic"`
					} `json:"observations"`
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("phases --json: %v", err)
				}
				if len(got.Observations) != len(rows) {
					t.Fatalf("identity %s: %d observations, want %d", identity, len(got.Observations), len(rows))
				}
				for i := range rows {
					if got.Observations[i].DeckyID != rows[i].DeckyID || got.Observations[i].Tactic != rows[i].Tactic {
						t.Errorf("identity %s observation %d: %+v, want %+v", identity, i, got.Observations[i], rows[i])
					}
				}
			}

			// navigator: a fleet layer with one entry per distinct technique
			// row of `techniques`.
			code, out, errOut := ttpctl(t, dsn, "", "techniques", "--json")
			if code != 0 {
				t.Fatalf("techniques: exit %d: %s", code, errOut)
			}
			var fleetRows []json.RawMessage
			if err := json.Unmarshal([]byte(out), &fleetRows); err != nil {
				t.Fatal(err)
			}
			layerPath := filepath.Join(t.TempDir(), "layer.json")
			if code, _, errOut := ttpctl(t, dsn, "", "navigator", "-o", layerPath); code != 0 {
				t.Fatalf("navigator: exit %d: %s", code, errOut)
			}
			layerRaw, err := os.ReadFile(layerPath)
			if err != nil {
				t.Fatal(err)
			}
			var layer struct {
				Domain     string            `json:"domain"`
				Techniques []json.RawMessage `json:"techniques"`
			}
			if err := json.Unmarshal(layerRaw, &layer); err != nil {
				t.Fatalf("layer: %v", err)
			}
			if layer.Domain != "enterprise-attack" || len(layer.Techniques) != len(fleetRows) {
				t.Errorf("layer domain %q with %d techniques, want enterprise-attack and %d", layer.Domain, len(layer.Techniques), len(fleetRows))
			}

			// purge: the dry run announces what the purge then deletes.
			count := regexp.MustCompile(`(\d+) tags`)
			code, dry, errOut := ttpctl(t, dsn, "", "purge", "--before", "2026-03-05", "--dry-run")
			if code != 0 {
				t.Fatalf("purge --dry-run: exit %d: %s", code, errOut)
			}
			code, done, errOut := ttpctl(t, dsn, "", "purge", "--before", "2026-03-05")
			if code != 0 {
				t.Fatalf("purge: exit %d: %s", code, errOut)
			}
			d, p := count.FindStringSubmatch(dry), count.FindStringSubmatch(done)
			if d == nil || p == nil || d[1] != p[1] {
				t.Fatalf("dry run said %q, purge said %q: counts differ", dry, done)
			}
			if n, _ := strconv.Atoi(p[1]); n == 0 {
				t.Errorf("purge deleted nothing; the cutoff should catch early tags")
			}
			_, again, _ := ttpctl(t, dsn, "", "purge", "--before", "2026-03-05")
			if m := count.FindStringSubmatch(again); m == nil || m[1] != "0" {
				t.Errorf("a second purge said %q, want 0 tags", again)
			}
		})
	}
}

// TestRollupTellsUnknownFromEmpty: an id the store does not hold is an
// error naming it, in rollup, tags, navigator and phases, while a stored
// identity, attacker or campaign with no tags, and any session without
// tags, give an empty answer.
func TestRollupTellsUnknownFromEmpty(t *testing.T) {
	raw, err := os.ReadFile(corpus + "fleet.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r struct{ Kind, UUID string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if _, ok := stored[r.Kind]; !ok {
			stored[r.Kind] = r.UUID
		}
	}
	for name, fresh := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			dsn := fresh(t)
			if code, out, errOut := ttpctl(t, dsn, "", "ingest", "--fleet", corpus+"fleet.jsonl", os.DevNull); code != 0 {
				t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
			}
			layer := filepath.Join(t.TempDir(), "layer.json")
			for _, kind := range []string{"identity", "attacker", "campaign"} {
				code, out, errOut := ttpctl(t, dsn, "", "rollup", kind, "no-such-"+kind)
				if code != 1 || !strings.Contains(errOut, `no `+kind+` "no-such-`+kind+`" in the store`) {
					t.Errorf("rollup of an unknown %s: exit %d, stdout %q, stderr %q", kind, code, out, errOut)
				}
				code, out, errOut = ttpctl(t, dsn, "", "rollup", kind, stored[kind])
				if code != 0 || !strings.Contains(out, "(no techniques)") {
					t.Errorf("rollup of a stored %s with no tags: exit %d, stdout %q, stderr %q", kind, code, out, errOut)
				}
				// The other scoped commands check the id the same way.
				for _, args := range [][]string{
					{"tags", "--" + kind, "ID", "--technique", "T1110"},
					{"navigator", "--" + kind, "ID", "-o", layer},
				} {
					for id, want := range map[string]int{"no-such-" + kind: 1, stored[kind]: 0} {
						a := slices.Clone(args)
						a[2] = id
						if code, out, errOut := ttpctl(t, dsn, "", a...); code != want {
							t.Errorf("%v: exit %d, want %d; stdout %q, stderr %q", a, code, want, out, errOut)
						}
					}
				}
			}
			if code, _, errOut := ttpctl(t, dsn, "", "phases", "no-such-identity"); code != 1 || !strings.Contains(errOut, "no identity") {
				t.Errorf("phases of an unknown identity: exit %d, stderr %q", code, errOut)
			}
			if code, _, errOut := ttpctl(t, dsn, "", "phases", stored["identity"]); code != 0 {
				t.Errorf("phases of a stored identity with no tags: exit %d, stderr %q", code, errOut)
			}
			code, out, errOut := ttpctl(t, dsn, "", "rollup", "session", "no-such-session")
			if code != 0 || !strings.Contains(out, "(no techniques)") {
				t.Errorf("rollup of a session with no tags: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// TestTagsJSONKeepsEvidenceBytes: tags --json prints each tag's evidence
// byte for byte as the tag line gave it (spacing, non-ASCII, characters
// encoding/json would escape), not re-encoded.
func TestTagsJSONKeepsEvidenceBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tags.jsonl")
	raw, err := os.ReadFile(corpus + "tags.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	var line map[string]json.RawMessage
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatal(err)
	}
	evidence := `{ "html":"<b>&amp;</b>",  "note" : "échec ✓\u00e9", "n": 1.50 }`
	// Edit the raw line, so that nothing re-encodes it: the evidence
	// replaced as written, the confidence set above the floor.
	edited := []byte(replaceValue(t, replaceValue(t, first, "evidence", string(line["evidence"]), evidence),
		"confidence", string(line["confidence"]), "0.9"))
	if err := os.WriteFile(path, append(edited, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	var anchor struct {
		Attacker *string `json:"attacker_uuid"`
		Identity *string `json:"identity_uuid"`
	}
	if err := json.Unmarshal(edited, &anchor); err != nil {
		t.Fatal(err)
	}
	flag, id := "--attacker", anchor.Attacker
	if id == nil {
		flag, id = "--identity", anchor.Identity
	}
	for name, fresh := range dsns(t) {
		t.Run(name, func(t *testing.T) {
			dsn := fresh(t)
			if code, out, errOut := ttpctl(t, dsn, "", "ingest", "--fleet", corpus+"fleet.jsonl", path); code != 0 {
				t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
			}
			args := []string{"tags", flag, *id, "--json"}
			if flag != "--attacker" {
				var tech string
				json.Unmarshal(line["technique_id"], &tech)
				args = append(args, "--technique", tech)
			}
			code, out, errOut := ttpctl(t, dsn, "", args...)
			if code != 0 {
				t.Fatalf("tags: exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, evidence) {
				t.Errorf("tags --json does not hold the evidence as given, %s:\n%s", evidence, out)
			}
			var page struct {
				Tags []struct{ Evidence json.RawMessage }
			}
			if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Tags) != 1 || string(page.Tags[0].Evidence) != evidence {
				t.Errorf("tags --json: %v, %+v", err, page)
			}
		})
	}
}

// replaceValue replaces the value old of key in the raw JSON line with new.
func replaceValue(t *testing.T, line, key, old, new string) string {
	t.Helper()
	at := strings.Index(line, `"`+key+`"`)
	i := -1
	if at >= 0 {
		i = strings.Index(line[at:], old)
	}
	if i < 0 {
		t.Fatalf("no %s value %s in %s", key, old, line)
	}
	return line[:at+i] + new + line[at+i+len(old):]
}

// TestPrintTagPageJSONSplicesEveryTag: on a page of many tags, each one's
// evidence comes out as stored and in its own tag, even evidence that
// looks like the placeholders the splice uses.
func TestPrintTagPageJSONSplicesEveryTag(t *testing.T) {
	var page ttprepo.TagPage
	for i := range 50 {
		ev := fmt.Sprintf("{ \"i\" : %d,\n\t\"s\": \"ttpctl-evidence-%d <&>\" }", i, i)
		page.Tags = append(page.Tags, ttprepo.Tag{UUID: fmt.Sprintf("t%d", i), Evidence: json.RawMessage(ev)})
	}
	var out bytes.Buffer
	if err := printTagPageJSON(&out, page); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tags []struct {
			UUID     string
			Evidence json.RawMessage
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Tags) != len(page.Tags) {
		t.Fatalf("%v, %d tags:\n%s", err, len(got.Tags), out.String())
	}
	for i, g := range got.Tags {
		if g.UUID != page.Tags[i].UUID || string(g.Evidence) != string(page.Tags[i].Evidence) {
			t.Errorf("tag %d: %s %s, want %s %s", i, g.UUID, g.Evidence, page.Tags[i].UUID, page.Tags[i].Evidence)
		}
	}
}
