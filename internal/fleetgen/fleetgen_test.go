package fleetgen

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

func generate(t *testing.T, cfg Config) (fleet, tags []byte, st StreamStats) {
	t.Helper()
	var f, g bytes.Buffer
	st, err := Generate(cfg, &f, &g)
	if err != nil {
		t.Fatal(err)
	}
	return f.Bytes(), g.Bytes(), st
}

func TestSameSeedSameBytes(t *testing.T) {
	rules, err := LoadRules("../../testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Scale: 2, Seed: 7, Rules: rules}
	f1, t1, _ := generate(t, cfg)
	f2, t2, _ := generate(t, cfg)
	if !bytes.Equal(f1, f2) || !bytes.Equal(t1, t2) {
		t.Fatal("same config gave different output")
	}
	cfg.Seed = 8
	_, t3, _ := generate(t, cfg)
	if bytes.Equal(t1, t3) {
		t.Fatal("different seeds gave the same stream")
	}
}

// TestProportions checks that a generated stream parses, that every tag
// id follows the UUID rule, and that its mix matches fleet-small's.
func TestProportions(t *testing.T) {
	rules, err := LoadRules("../../testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	fleet, tags, st := generate(t, Config{Scale: 10, Seed: 1, Rules: rules})

	attackerIdentity := map[string]*string{}
	sc := bufio.NewScanner(bytes.NewReader(fleet))
	for n := 1; sc.Scan(); n++ {
		r, err := ingest.ParseFleetLine(n, sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if r.Attacker != nil {
			attackerIdentity[r.Attacker.UUID] = r.Attacker.IdentityID
		}
	}
	if len(attackerIdentity) != 10*AttackersPerUnit {
		t.Fatalf("attackers: got %d, want %d", len(attackerIdentity), 10*AttackersPerUnit)
	}

	var lines, replays, below, identityOnly, noIdentityYet, both, tiedWithPrev int
	seen := map[string]bool{}
	prevAt := ""
	sc = bufio.NewScanner(bytes.NewReader(tags))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		tag, err := ingest.ParseTagLine(lines, sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := ttprepo.ValidateTag(lines, &tag); err != nil {
			t.Fatal(err)
		}
		sub := ""
		if tag.SubTechniqueID != nil {
			sub = *tag.SubTechniqueID
		}
		if want := ttprepo.TagUUID(tag.SourceKind, tag.SourceID, tag.RuleID, tag.RuleVersion, tag.TechniqueID, sub); tag.UUID != want {
			t.Fatalf("line %d: uuid %s, want %s", lines, tag.UUID, want)
		}
		if seen[tag.UUID] {
			replays++
			continue
		}
		seen[tag.UUID] = true
		at := tag.CreatedAt.String()
		if at == prevAt {
			tiedWithPrev++
		}
		prevAt = at
		if tag.Confidence < ttprepo.ConfidenceFloor {
			below++
		}
		switch {
		case tag.AttackerUUID == nil:
			identityOnly++
		case tag.IdentityUUID != nil:
			both++
		}
		if tag.AttackerUUID != nil && attackerIdentity[*tag.AttackerUUID] == nil {
			noIdentityYet++
		}
	}
	if lines != 10*LinesPerUnit || st.Lines != lines || st.Replays != replays {
		t.Fatalf("lines %d replays %d, stats %+v", lines, replays, st)
	}
	fresh := float64(lines - replays)
	share := func(name string, n int, of, lo, hi float64) {
		t.Helper()
		if x := float64(n) / of; x < lo || x > hi {
			t.Errorf("%s: %.3f, want within [%.2f, %.2f]", name, x, lo, hi)
		}
	}
	share("replays", replays, float64(lines), 0.07, 0.11)
	share("below floor", below, fresh, 0.28, 0.40)
	share("identity only", identityOnly, fresh, 0.04, 0.09)
	share("both anchors", both, fresh, 0.30, 0.45)
	share("attacker without identity", noIdentityYet, fresh, 0.12, 0.26)
	share("tied created_at", tiedWithPrev, fresh, 0.15, 0.60)
}
