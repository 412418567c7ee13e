package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// goodBatch returns n valid tags on attacker a1 with distinct ids.
func goodBatch(prefix string, n int) []ttprepo.Tag {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	out := make([]ttprepo.Tag, n)
	for i := range out {
		out[i] = tag(fmt.Sprintf("%s-%d", prefix, i), 0.9, at.Add(time.Duration(i)*time.Second))
	}
	return out
}

// snapshot is what a refused call must leave unchanged.
type snapshot struct {
	count int64
	stats []ttprepo.FleetTechnique
}

func takeSnapshot(t *testing.T, s *ttprepo.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	n, err := s.CountTags(ctx)
	must(t, err, "count")
	stats, err := s.ListDistinctTechniques(ctx)
	must(t, err, "distinct techniques")
	return snapshot{n, stats}
}

// badTagCases lists every kind of bad tag the store must refuse: each
// mutates a valid tag and names the field the error must report.
var badTagCases = []struct {
	name    string
	field   string
	unknown bool // an anchor that is not stored: ErrUnknownAnchor
	mutate  func(t *ttprepo.Tag)
}{
	{"no anchor", "attacker_uuid", false, func(t *ttprepo.Tag) { t.AttackerUUID, t.IdentityUUID = nil, nil }},
	{"unknown attacker", "attacker_uuid", true, func(t *ttprepo.Tag) { t.AttackerUUID = ptr("nobody") }},
	{"unknown identity", "identity_uuid", true, func(t *ttprepo.Tag) { t.IdentityUUID = ptr("nobody") }},
	{"unknown identity, no attacker", "identity_uuid", true, func(t *ttprepo.Tag) { t.AttackerUUID, t.IdentityUUID = nil, ptr("nobody") }},

	{"confidence NaN", "confidence", false, func(t *ttprepo.Tag) { t.Confidence = math.NaN() }},
	{"confidence +Inf", "confidence", false, func(t *ttprepo.Tag) { t.Confidence = math.Inf(1) }},
	{"confidence -Inf", "confidence", false, func(t *ttprepo.Tag) { t.Confidence = math.Inf(-1) }},
	{"confidence below 0", "confidence", false, func(t *ttprepo.Tag) { t.Confidence = -0.01 }},
	{"confidence above 1", "confidence", false, func(t *ttprepo.Tag) { t.Confidence = math.Nextafter(1, 2) }},

	{"empty uuid", "uuid", false, func(t *ttprepo.Tag) { t.UUID = "" }},
	{"empty source_kind", "source_kind", false, func(t *ttprepo.Tag) { t.SourceKind = "" }},
	{"empty source_id", "source_id", false, func(t *ttprepo.Tag) { t.SourceID = "" }},
	{"empty rule_id", "rule_id", false, func(t *ttprepo.Tag) { t.RuleID = "" }},
	{"empty attacker_uuid", "attacker_uuid", false, func(t *ttprepo.Tag) { t.AttackerUUID = ptr("") }},
	{"empty identity_uuid", "identity_uuid", false, func(t *ttprepo.Tag) { t.IdentityUUID = ptr("") }},
	{"empty session_id", "session_id", false, func(t *ttprepo.Tag) { t.SessionID = ptr("") }},
	{"empty decky_id", "decky_id", false, func(t *ttprepo.Tag) { t.DeckyID = ptr("") }},

	{"uuid too long", "uuid", false, func(t *ttprepo.Tag) { t.UUID = strings.Repeat("u", ttprepo.MaxIDLen+1) }},
	{"source_kind too long", "source_kind", false, func(t *ttprepo.Tag) { t.SourceKind = strings.Repeat("k", ttprepo.MaxIDLen+1) }},
	{"source_id too long", "source_id", false, func(t *ttprepo.Tag) { t.SourceID = strings.Repeat("s", ttprepo.MaxSourceIDLen+1) }},
	{"source_id too long in 4-byte chars", "source_id", false, func(t *ttprepo.Tag) { t.SourceID = strings.Repeat("😀", ttprepo.MaxSourceIDLen+1) }},
	{"attacker_uuid too long", "attacker_uuid", false, func(t *ttprepo.Tag) { t.AttackerUUID = ptr(strings.Repeat("a", ttprepo.MaxIDLen+1)) }},
	{"identity_uuid too long", "identity_uuid", false, func(t *ttprepo.Tag) { t.IdentityUUID = ptr(strings.Repeat("i", ttprepo.MaxIDLen+1)) }},
	{"session_id too long", "session_id", false, func(t *ttprepo.Tag) { t.SessionID = ptr(strings.Repeat("s", ttprepo.MaxSessionIDLen+1)) }},
	{"decky_id too long", "decky_id", false, func(t *ttprepo.Tag) { t.DeckyID = ptr(strings.Repeat("d", ttprepo.MaxSessionIDLen+1)) }},
	{"rule_id too long", "rule_id", false, func(t *ttprepo.Tag) { t.RuleID = strings.Repeat("r", ttprepo.MaxIDLen+1) }},
	{"attack_release too long", "attack_release", false, func(t *ttprepo.Tag) { t.AttackRelease = strings.Repeat("9", ttprepo.MaxAttackReleaseLen+1) }},
	{"mitre_url too long", "mitre_url", false, func(t *ttprepo.Tag) { t.MitreURL = strings.Repeat("m", ttprepo.MaxMitreURLLen+1) }},

	{"tactic empty", "tactic", false, func(t *ttprepo.Tag) { t.Tactic = "" }},
	{"tactic lower case", "tactic", false, func(t *ttprepo.Tag) { t.Tactic = "ta0006" }},
	{"tactic short", "tactic", false, func(t *ttprepo.Tag) { t.Tactic = "TA006" }},
	{"tactic is a technique", "tactic", false, func(t *ttprepo.Tag) { t.Tactic = "T0006" }},
	{"tactic with trailing space", "tactic", false, func(t *ttprepo.Tag) { t.Tactic = "TA0006 " }},
	{"technique empty", "technique_id", false, func(t *ttprepo.Tag) { t.TechniqueID = "" }},
	{"technique short", "technique_id", false, func(t *ttprepo.Tag) { t.TechniqueID = "T111" }},
	{"technique is a sub-technique", "technique_id", false, func(t *ttprepo.Tag) { t.TechniqueID = "T1110.001" }},
	{"technique with newline", "technique_id", false, func(t *ttprepo.Tag) { t.TechniqueID = "T1110\n" }},
	{"sub-technique short", "sub_technique_id", false, func(t *ttprepo.Tag) { t.SubTechniqueID = ptr("T1110.01") }},
	{"sub-technique is a technique", "sub_technique_id", false, func(t *ttprepo.Tag) { t.SubTechniqueID = ptr("T1110") }},
	{"sub-technique empty", "sub_technique_id", false, func(t *ttprepo.Tag) { t.SubTechniqueID = ptr("") }},
	{"sub-technique of another technique", "sub_technique_id", false, func(t *ttprepo.Tag) { t.SubTechniqueID = ptr("T1059.001") }},

	{"evidence missing", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = nil }},
	{"evidence array", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`[1, 2]`) }},
	{"evidence string", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`"x"`) }},
	{"evidence null", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`null`) }},
	{"evidence number", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`42`) }},
	{"evidence truncated", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`{"a": `) }},
	{"evidence two objects", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`{} {}`) }},
	{"evidence single quotes", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage(`{'a': 1}`) }},
	{"evidence invalid UTF-8", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage("{\"a\": \"\xff\xfe\"}") }},
	{"evidence NUL byte", "evidence", false, func(t *ttprepo.Tag) { t.Evidence = json.RawMessage("{\"a\": 1}\x00") }},
	{"evidence too long", "evidence", false, func(t *ttprepo.Tag) {
		t.Evidence = json.RawMessage(`{"a":"` + strings.Repeat("x", ttprepo.MaxEvidenceLen) + `"}`)
	}},

	{"uuid invalid UTF-8", "uuid", false, func(t *ttprepo.Tag) { t.UUID = "bad-\xc3\x28" }},
	{"source_id invalid UTF-8", "source_id", false, func(t *ttprepo.Tag) { t.SourceID = "src-\xff" }},
	{"session_id invalid UTF-8", "session_id", false, func(t *ttprepo.Tag) { t.SessionID = ptr("\xed\xa0\x80") }},
	{"mitre_url invalid UTF-8", "mitre_url", false, func(t *ttprepo.Tag) { t.MitreURL = "https://x/\x80" }},
	{"source_id NUL byte", "source_id", false, func(t *ttprepo.Tag) { t.SourceID = "src\x00id" }},
	{"decky_id NUL byte", "decky_id", false, func(t *ttprepo.Tag) { t.DeckyID = ptr("\x00") }},
	{"rule_id NUL byte", "rule_id", false, func(t *ttprepo.Tag) { t.RuleID = "R\x000003" }},

	{"rule_version negative", "rule_version", false, func(t *ttprepo.Tag) { t.RuleVersion = -1 }},
	{"created_at finer than a microsecond", "created_at", false, func(t *ttprepo.Tag) { t.CreatedAt = t.CreatedAt.Add(1) }},
	{"created_at before year 1000", "created_at", false, func(t *ttprepo.Tag) { t.CreatedAt = time.Date(999, 12, 31, 0, 0, 0, 0, time.UTC) }},
	{"created_at after year 9999", "created_at", false, func(t *ttprepo.Tag) { t.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
}

// TestBadTagWritesNothing puts each bad tag in the middle of a batch of
// good ones: the call must fail with a *TagError naming that tag and the
// field, and leave the count and the fleet-wide stats as they were.
func TestBadTagWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		// Some tags already stored, so that the stats are not empty.
		_, err := s.InsertTags(ctx, goodBatch("seed", 3))
		must(t, err, "seed")
		before := takeSnapshot(t, s)

		for i, tc := range badTagCases {
			t.Run(tc.name, func(t *testing.T) {
				batch := goodBatch(fmt.Sprintf("case%d", i), 7)
				const bad = 3
				tc.mutate(&batch[bad])

				n, err := s.InsertTags(ctx, batch)
				var te *ttprepo.TagError
				if !errors.As(err, &te) {
					t.Fatalf("InsertTags = (%d, %v), want a *TagError", n, err)
				}
				if te.Index != bad || te.UUID != batch[bad].UUID || te.Field != tc.field {
					t.Errorf("error names tag %d (uuid %q) field %q, want tag %d (uuid %q) field %q: %v",
						te.Index, te.UUID, te.Field, bad, batch[bad].UUID, tc.field, err)
				}
				if !errors.Is(err, ttprepo.ErrInvalidTag) {
					t.Errorf("error %v does not match ErrInvalidTag", err)
				}
				if got := errors.Is(err, ttprepo.ErrUnknownAnchor); got != tc.unknown {
					t.Errorf("errors.Is(err, ErrUnknownAnchor) = %v, want %v: %v", got, tc.unknown, err)
				}
				if n != 0 {
					t.Errorf("refused call reports %d rows written", n)
				}
				if te.Reason == "" || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("error %q does not say what is wrong with %s", err, tc.field)
				}
				if after := takeSnapshot(t, s); !reflect.DeepEqual(before, after) {
					t.Errorf("refused call changed the store:\n before %+v\n after  %+v", before, after)
				}

				// The same tag alone is refused as well, and the good ones
				// alone go in: the refusal was about that tag only.
				if _, err := s.InsertTags(ctx, batch[bad:bad+1]); !errors.Is(err, ttprepo.ErrInvalidTag) {
					t.Errorf("bad tag alone: %v, want ErrInvalidTag", err)
				}
			})
		}

		// The good tags of every case are still insertable: the refusals
		// left nothing behind that blocks them.
		for i := range badTagCases {
			batch := goodBatch(fmt.Sprintf("case%d", i), 7)
			n, err := s.InsertTags(ctx, batch)
			must(t, err, "good batch", i)
			if n != 7 {
				t.Errorf("good batch %d inserted %d, want 7", i, n)
			}
		}
	})
}

// TestDuplicateIsSilent checks that a stored id, or one repeated within a
// call, is skipped without error and counted once.
func TestDuplicateIsSilent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		batch := goodBatch("dup", 5)
		batch = append(batch, batch[1], batch[1])
		n, err := s.InsertTags(ctx, batch)
		must(t, err, "first")
		if n != 5 {
			t.Errorf("first call inserted %d, want 5 (two repeats inside the call)", n)
		}
		snap := takeSnapshot(t, s)

		// The second time, a changed field does not overwrite: the id is
		// what makes a tag, and the stored one stays as written.
		again := goodBatch("dup", 5)
		again[2].Confidence = 0.5
		n, err = s.InsertTags(ctx, again)
		must(t, err, "second")
		if n != 0 {
			t.Errorf("second call inserted %d, want 0", n)
		}
		if after := takeSnapshot(t, s); !reflect.DeepEqual(snap, after) {
			t.Errorf("replay changed the store:\n before %+v\n after  %+v", snap, after)
		}
		got, err := s.GetTag(ctx, batch[2].UUID)
		must(t, err, "get")
		if got.Confidence != 0.9 {
			t.Errorf("replay overwrote confidence: %v", got.Confidence)
		}
	})
}

// TestZeroCreatedAtTakesNow checks the one created_at the store fills in.
func TestZeroCreatedAtTakesNow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		tg := tag("zero-time", 0.9, time.Time{})
		before := time.Now().UTC().Truncate(time.Microsecond)
		_, err := s.InsertTags(ctx, []ttprepo.Tag{tg})
		must(t, err, "insert")
		after := time.Now().UTC()
		got, err := s.GetTag(ctx, tg.UUID)
		must(t, err, "get")
		if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
			t.Errorf("created_at %s, want between %s and %s", got.CreatedAt, before, after)
		}
		if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond()%1000 != 0 {
			t.Errorf("created_at %s is not UTC microseconds", got.CreatedAt)
		}
	})
}

// TestGetTagNotFound checks the error for an id that is not stored.
func TestGetTagNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		_, err := s.GetTag(context.Background(), "missing")
		if !errors.Is(err, ttprepo.ErrNotFound) {
			t.Errorf("GetTag(missing) = %v, want ErrNotFound", err)
		}
	})
}

// evidenceOfLen returns a JSON object of exactly n bytes, mostly r.
func evidenceOfLen(r string, n int) json.RawMessage {
	body := n - len(`{"v":""}`)
	m := body / len(r)
	return json.RawMessage(`{"v":"` + strings.Repeat(r, m) + strings.Repeat("x", body-m*len(r)) + `"}`)
}

// atLimit returns a string of exactly n characters made of r.
func atLimit(r string, n int) string { return strings.Repeat(r, n) }

// TestLengthLimitsBothBackends stores a tag whose every text field is
// exactly at its limit, in one-byte and in four-byte characters, and reads
// it back; one character more is refused by the facade on both.
func TestLengthLimitsBothBackends(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		for _, r := range []string{"x", "é", "😀"} {
			id := atLimit(r, ttprepo.MaxIDLen)
			must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: id}), "campaign at limit")
			must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: id, CampaignID: &id}), "identity at limit")
			must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: id, IP: atLimit(r, ttprepo.MaxIDLen), IdentityID: &id}), "attacker at limit")

			full := ttprepo.Tag{
				UUID:           id,
				SourceKind:     atLimit(r, ttprepo.MaxIDLen),
				SourceID:       atLimit(r, ttprepo.MaxSourceIDLen),
				AttackerUUID:   &id,
				IdentityUUID:   &id,
				SessionID:      ptr(atLimit(r, ttprepo.MaxSessionIDLen)),
				DeckyID:        ptr(atLimit(r, ttprepo.MaxSessionIDLen)),
				Tactic:         "TA0006",
				TechniqueID:    "T1110",
				SubTechniqueID: ptr("T1110.001"),
				Confidence:     1,
				RuleID:         atLimit(r, ttprepo.MaxIDLen),
				RuleVersion:    math.MaxInt32,
				Evidence:       evidenceOfLen(r, ttprepo.MaxEvidenceLen),
				AttackRelease:  atLimit(r, ttprepo.MaxAttackReleaseLen),
				MitreURL:       atLimit(r, ttprepo.MaxMitreURLLen),
				CreatedAt:      time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
			}
			n, err := s.InsertTags(ctx, []ttprepo.Tag{full})
			must(t, err, "tag at every limit in", r)
			if n != 1 {
				t.Fatalf("tag at limit in %q: inserted %d", r, n)
			}
			got, err := s.GetTag(ctx, id)
			must(t, err, "get")
			if !reflect.DeepEqual(got, full) {
				t.Errorf("tag at limit in %q read back changed:\n got  %+v\n want %+v", r, got, full)
			}

			// The lowest instant and confidence 0 (kept only if the floor
			// were 0, so just validated) are within range too.
			low := full
			low.UUID = "low-" + r
			low.CreatedAt = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
			_, err = s.InsertTags(ctx, []ttprepo.Tag{low})
			must(t, err, "lowest instant")
			if got, err := s.GetTag(ctx, low.UUID); err != nil || !got.CreatedAt.Equal(low.CreatedAt) {
				t.Errorf("lowest instant read back as %v, %v", got.CreatedAt, err)
			}
		}
	})
}

// TestParseTagLineCreatedAt checks the ingest side of created_at: a time
// that does not parse is refused by name; a missing, null or empty one is
// zero, which the store fills in.
func TestParseTagLineCreatedAt(t *testing.T) {
	base := map[string]any{
		"uuid": "u1", "source_kind": "session", "source_id": "s", "attacker_uuid": "a1",
		"tactic": "TA0006", "technique_id": "T1110", "confidence": 0.9, "rule_id": "R1",
		"rule_version": 1, "evidence": map[string]any{}, "attack_release": "15.1", "mitre_url": "",
	}
	line := func(createdAt any, present bool) []byte {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		if present {
			m["created_at"] = createdAt
		}
		raw, err := json.Marshal(m)
		must(t, err)
		return raw
	}
	for _, bad := range []any{"yesterday", "2026-13-01T00:00:00Z", "2026-03-01 12:00:00", "2026-03-01T12:00:00", "1700000000", 1700000000, true} {
		_, err := ingest.ParseTagLine(7, line(bad, true))
		var le *ingest.LineError
		if !errors.As(err, &le) || le.Line != 7 || le.Field != "created_at" {
			t.Errorf("created_at %v: got %v, want a LineError for line 7, created_at", bad, err)
		}
	}
	for _, zero := range []struct {
		v       any
		present bool
	}{{nil, false}, {nil, true}, {"", true}} {
		tg, err := ingest.ParseTagLine(1, line(zero.v, zero.present))
		if err != nil || !tg.CreatedAt.IsZero() {
			t.Errorf("created_at %v (present %v): got %v, %v, want zero", zero.v, zero.present, tg.CreatedAt, err)
		}
	}
	tg, err := ingest.ParseTagLine(1, line("2026-03-01T14:00:00.123456+02:00", true))
	if err != nil || !tg.CreatedAt.Equal(time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)) {
		t.Errorf("offset time: got %v, %v", tg.CreatedAt, err)
	}
	tg, err = ingest.ParseTagLine(1, line("2026-03-01T12:00:00.1234567Z", true))
	if err == nil {
		if verr := ttprepo.ValidateTag(0, &tg); verr == nil {
			t.Errorf("a created_at finer than a microsecond was accepted: %v", tg.CreatedAt)
		}
	}
}

// TestLargeEvidenceBatch writes one call whose tags carry large evidence,
// together far more than MySQL takes in one statement by default
// (max_allowed_packet is 16 MiB on MariaDB): the store must split its
// statements so that what SQLite accepts MySQL accepts too.
func TestLargeEvidenceBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		const n, size = 600, 64 << 10
		batch := goodBatch("large", n)
		for i := range batch {
			batch[i].Evidence = json.RawMessage(`{"blob":"` + strings.Repeat(string(rune('a'+i%26)), size) + `"}`)
		}
		got, err := s.InsertTags(ctx, batch)
		must(t, err, "insert", n, "tags of", size, "bytes of evidence")
		if got != n {
			t.Errorf("inserted %d, want %d", got, n)
		}
		back, err := s.GetTag(ctx, batch[n-1].UUID)
		must(t, err, "get")
		if !bytes.Equal(back.Evidence, batch[n-1].Evidence) {
			t.Errorf("evidence of %d bytes read back as %d bytes", len(batch[n-1].Evidence), len(back.Evidence))
		}
	})
}

// TestUnknownAnchorInMemory checks the refusal of a missing anchor on an
// in-memory SQLite store, whose pool has a single connection: naming the
// culprit must not wait for a connection the failed transaction holds.
func TestUnknownAnchorInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := openStore(t, "sqlite::memory:")
	fleet(t, s)
	batch := goodBatch("mem", 5)
	batch[3].AttackerUUID = ptr("nobody")
	_, err := s.InsertTags(ctx, batch)
	var te *ttprepo.TagError
	if !errors.As(err, &te) || te.Index != 3 || !errors.Is(err, ttprepo.ErrUnknownAnchor) {
		t.Fatalf("InsertTags = %v, want an unknown anchor error for tag 3", err)
	}
	if n, err := s.CountTags(ctx); err != nil || n != 0 {
		t.Errorf("count = %d, %v; want 0", n, err)
	}
}

// TestRepeatedIDInOneCallKeepsTheFirstCopy: a tag id given twice in one
// InsertTags call is stored as its first copy, whatever order a backend
// writes a batch in; a later copy is a replay, never read, so its anchors
// cannot fail the call, while an unknown anchor on the first copy does.
func TestRepeatedIDInOneCallKeepsTheFirstCopy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s) // attackers a1, a2, a3; identities i1, i2
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		copyOn := func(src string, attacker, identity *string) ttprepo.Tag {
			tg := tag(src, 0.9, at)
			tg.AttackerUUID, tg.IdentityUUID = attacker, identity
			return tg
		}

		// The later copy names an unknown attacker that sorts before the
		// first copy's.
		n, err := s.InsertTags(ctx, []ttprepo.Tag{copyOn("x", ptr("a2"), nil), copyOn("x", ptr("a0-unknown"), nil)})
		if err != nil || n != 1 {
			t.Fatalf("first copy good, later copy unknown: %d, %v; want 1, nil", n, err)
		}
		got, err := s.GetTag(ctx, copyOn("x", nil, nil).UUID)
		must(t, err)
		if got.AttackerUUID == nil || *got.AttackerUUID != "a2" {
			t.Errorf("stored copy names attacker %v, want a2", got.AttackerUUID)
		}

		// The first copy names an unknown attacker that sorts after the
		// later copy's.
		_, err = s.InsertTags(ctx, []ttprepo.Tag{copyOn("y", ptr("zz-unknown"), nil), copyOn("y", ptr("a1"), nil)})
		var te *ttprepo.TagError
		if !errors.As(err, &te) || te.Index != 0 || te.Field != "attacker_uuid" {
			t.Fatalf("first copy unknown: %v, want a TagError on tag 0's attacker_uuid", err)
		}
		if _, err := s.GetTag(ctx, copyOn("y", nil, nil).UUID); !errors.Is(err, ttprepo.ErrNotFound) {
			t.Errorf("refused call stored tag y: %v", err)
		}

		// Different anchors, both known: the first copy is the one stored.
		n, err = s.InsertTags(ctx, []ttprepo.Tag{copyOn("z", ptr("a2"), nil), copyOn("z", nil, ptr("i1"))})
		if err != nil || n != 1 {
			t.Fatalf("two known copies: %d, %v; want 1, nil", n, err)
		}
		got, err = s.GetTag(ctx, copyOn("z", nil, nil).UUID)
		must(t, err)
		if got.AttackerUUID == nil || *got.AttackerUUID != "a2" || got.IdentityUUID != nil {
			t.Errorf("stored copy has attacker %v, identity %v; want a2 and none", got.AttackerUUID, got.IdentityUUID)
		}
	})
}
