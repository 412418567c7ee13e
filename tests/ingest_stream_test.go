package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// corpusCounts works out, line by line and without the store, what an
// ingest of fleet-small's tags.jsonl must report: lines, lines below the
// floor, and lines kept (valid, at or above the floor, replays included).
func corpusCounts(t *testing.T) (lines, below, kept int64) {
	readLines(t, corpusDir+"tags.jsonl", func(n int, line []byte) {
		lines++
		tg, err := ingest.ParseTagLine(n, line)
		must(t, err, "tag line", n)
		must(t, ttprepo.ValidateTag(n, &tg), "tag line", n)
		if tg.Confidence < ttprepo.ConfidenceFloor {
			below++
		} else {
			kept++
		}
	})
	return lines, below, kept
}

func ingestCorpusFleet(t *testing.T, s *ttprepo.Store) ingest.FleetSummary {
	t.Helper()
	f, err := os.Open(corpusDir + "fleet.jsonl")
	must(t, err)
	defer f.Close()
	sum, err := ingest.Fleet(context.Background(), s, f)
	must(t, err, "ingest fleet")
	return sum
}

func ingestCorpusTags(t *testing.T, s *ttprepo.Store, opt ingest.Options) ingest.Summary {
	t.Helper()
	f, err := os.Open(corpusDir + "tags.jsonl")
	must(t, err)
	defer f.Close()
	sum, err := ingest.Tags(context.Background(), s, f, opt)
	must(t, err, "ingest tags")
	return sum
}

// tagStream renders tags as a tags.jsonl stream.
func tagStream(t *testing.T, tags []ttprepo.Tag) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, tg := range tags {
		must(t, enc.Encode(tg))
	}
	return &buf
}

// checkBalance checks that every line of a summary is accounted for once.
func checkBalance(t *testing.T, s ingest.Summary) {
	t.Helper()
	if got := s.Blank + s.Invalid + s.BelowFloor + s.AlreadyPresent + s.Inserted; got != s.Lines {
		t.Errorf("blank+invalid+below+present+inserted = %d, lines = %d: %+v", got, s.Lines, s)
	}
}

// TestIngestFleetSmall streams fleet-small through the ingester twice, in
// batches small enough that replays cross batch boundaries, and checks
// every count against expected.json and a line-by-line count, and then
// the rollups against expected.json.
func TestIngestFleetSmall(t *testing.T) {
	want := loadExpected(t)
	lines, below, kept := corpusCounts(t)
	if lines != 1656 {
		t.Fatalf("corpus has %d lines, expected.json's stream has 1656", lines)
	}
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet := ingestCorpusFleet(t, s)
		if fleet.Lines != 108 || fleet.Invalid != 0 || fleet.Campaigns+fleet.Identities+fleet.Attackers != 108 {
			t.Errorf("fleet summary %+v, want 108 records and no invalid line", fleet)
		}

		var calls int
		var last ingest.Summary
		first := ingestCorpusTags(t, s, ingest.Options{BatchSize: 97, Progress: func(p ingest.Summary) {
			if p.Lines < last.Lines || p.Inserted < last.Inserted {
				t.Errorf("progress went backwards: %+v after %+v", p, last)
			}
			calls++
			last = p
		}})
		checkBalance(t, first)
		wantFirst := ingest.Summary{Lines: lines, BelowFloor: below,
			AlreadyPresent: kept - int64(want.InsertedFirstPass), Inserted: int64(want.InsertedFirstPass)}
		if first.Lines != wantFirst.Lines || first.Invalid != 0 || first.Blank != 0 || first.BelowFloor != below ||
			first.Inserted != wantFirst.Inserted || first.AlreadyPresent != wantFirst.AlreadyPresent {
			t.Errorf("first pass %+v, want %+v", first, wantFirst)
		}
		if minCalls := int(kept / 97); calls < minCalls {
			t.Errorf("progress called %d times, want at least %d", calls, minCalls)
		}
		if n, err := s.CountTags(ctx); err != nil || n != int64(want.InsertedFirstPass) {
			t.Errorf("stored %d, %v; want %d", n, err, want.InsertedFirstPass)
		}

		// The second pass, with the default batch size, finds everything.
		second := ingestCorpusTags(t, s, ingest.Options{})
		checkBalance(t, second)
		if second.Inserted != int64(want.InsertedSecondPass) || second.AlreadyPresent != kept || second.BelowFloor != below {
			t.Errorf("second pass %+v, want %d inserted, %d already present, %d below floor",
				second, want.InsertedSecondPass, kept, below)
		}

		for id, rows := range want.ByIdentity {
			got, err := s.ListTechniquesByIdentity(ctx, id)
			must(t, err)
			compare(t, "identity "+id, got, rows)
		}
		for id, rows := range want.ByCampaign {
			got, err := s.ListTechniquesByCampaign(ctx, id)
			must(t, err)
			compare(t, "campaign "+id, got, rows)
		}
		got, err := s.ListDistinctTechniques(ctx)
		must(t, err)
		compare(t, "distinct techniques", got, want.DistinctTechniques)
	})
}

// corpusTagLine returns the first line of fleet-small's tags (an
// attacker-anchored tag at confidence 0.85) as a map to derive lines from.
func corpusTagLine(t *testing.T) map[string]any {
	var m map[string]any
	readLines(t, corpusDir+"tags.jsonl", func(n int, line []byte) {
		if n == 1 {
			must(t, json.Unmarshal(line, &m))
		}
	})
	if m["confidence"] != 0.85 || m["attacker_uuid"] == nil {
		t.Fatalf("first corpus line is not the attacker tag this test expects: %v", m)
	}
	return m
}

// lineFile builds a tag stream from lines derived from a template.
type lineFile struct {
	t        *testing.T
	template map[string]any
	buf      bytes.Buffer
	n        int
}

// add writes a line with a fresh uuid, changed by mod, and returns its
// number.
func (f *lineFile) add(mod func(m map[string]any)) int {
	m := map[string]any{}
	for k, v := range f.template {
		m[k] = v
	}
	m["uuid"] = fmt.Sprintf("ingest-test-%d", f.n+1)
	if mod != nil {
		mod(m)
	}
	raw, err := json.Marshal(m)
	must(f.t, err)
	return f.raw(string(raw))
}

// raw writes a line as it is and returns its number.
func (f *lineFile) raw(line string) int {
	f.buf.WriteString(line)
	f.buf.WriteByte('\n')
	f.n++
	return f.n
}

// TestIngestInvalidLines mixes good lines with every kind of bad one and
// checks that the good ones land, each bad one is reported with its line
// number and field, and the counts add up, on both backends and with
// batches of several sizes (so that unknown anchors are found in the
// first, a middle and the last position of a batch).
func TestIngestInvalidLines(t *testing.T) {
	f := &lineFile{t: t, template: corpusTagLine(t)}
	type bad struct{ field, name string }
	wantBad := map[int]bad{}
	good := 0
	addGood := func() { f.add(nil); good++ }
	addBad := func(field, name string, mod func(m map[string]any)) {
		wantBad[f.add(mod)] = bad{field, name}
	}

	addGood()
	wantBad[f.raw(`{"uuid": "x", "confidence": 0.9`)] = bad{"", "truncated JSON"}
	addGood()
	addBad("attacker_uuid", "unknown attacker", func(m map[string]any) { m["attacker_uuid"] = "no-such-attacker" })
	addBad("attacker_uuid", "same unknown attacker", func(m map[string]any) { m["attacker_uuid"] = "no-such-attacker" })
	addGood()
	addBad("identity_uuid", "unknown identity", func(m map[string]any) {
		m["attacker_uuid"], m["identity_uuid"] = nil, "no-such-identity"
	})
	addBad("confidence", "confidence as a string", func(m map[string]any) { m["confidence"] = "NaN" })
	addBad("confidence", "confidence out of float range", func(m map[string]any) { m["confidence"] = json.RawMessage("1e999") })
	addBad("confidence", "confidence above 1", func(m map[string]any) { m["confidence"] = 1.5 })
	addBad("confidence", "negative confidence", func(m map[string]any) { m["confidence"] = -0.1 })
	addGood()
	addBad("created_at", "bad created_at", func(m map[string]any) { m["created_at"] = "yesterday" })
	addBad("technique_id", "bad technique", func(m map[string]any) { m["technique_id"] = "X1" })
	addBad("evidence", "evidence not an object", func(m map[string]any) { m["evidence"] = []int{1} })
	wantBad[f.raw(`[1, 2, 3]`)] = bad{"", "an array"}
	addBad("", "too long", func(m map[string]any) { m["evidence"] = map[string]string{"pad": strings.Repeat("x", 4096)} })
	f.raw("")
	f.raw(" \t ")
	// Only JSON white space is blank; a no-break space is reported.
	wantBad[f.raw("\u00a0")] = bad{"", "no-break space only"}
	// Values the store would round: refused, not changed.
	addBad("confidence", "confidence rounded up to the floor", func(m map[string]any) {
		m["confidence"] = json.RawMessage("0.29999999999999999")
	})
	addBad("created_at", "created_at with a tenth fraction digit", func(m map[string]any) {
		m["created_at"] = "2026-03-01T12:00:00.1234560009Z"
	})
	// Below the floor with an unknown attacker: never written, so never
	// checked against the store.
	f.add(func(m map[string]any) { m["attacker_uuid"], m["confidence"] = "no-such-attacker", 0.1 })
	addGood()
	// A replay of the first good line, naming an unknown attacker: the
	// id alone decides, so it is already present, not invalid.
	f.add(func(m map[string]any) { m["uuid"], m["attacker_uuid"] = "ingest-test-1", "no-such-attacker" })
	addGood()
	addBad("attacker_uuid", "unknown attacker last", func(m map[string]any) { m["attacker_uuid"] = "another-missing" })
	input := f.buf.Bytes()

	for _, batch := range []int{1, 2, 3, 1000} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
				ingestCorpusFleet(t, s)
				sum, err := ingest.Tags(context.Background(), s, bytes.NewReader(input),
					ingest.Options{BatchSize: batch, MaxLineBytes: 2048})
				must(t, err, "ingest")
				checkBalance(t, sum)

				want := ingest.Summary{Lines: int64(f.n), Blank: 2, Invalid: int64(len(wantBad)),
					BelowFloor: 1, AlreadyPresent: 1, Inserted: int64(good)}
				got := sum
				got.InvalidLines = nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("summary %+v, want %+v", got, want)
				}
				if n, err := s.CountTags(context.Background()); err != nil || n != int64(good) {
					t.Errorf("stored %d, %v; want the %d good lines", n, err, good)
				}

				// Each bad line listed once, in line order, naming its field.
				prev := 0
				for _, le := range sum.InvalidLines {
					if le.Line <= prev {
						t.Errorf("invalid lines out of order: %d after %d", le.Line, prev)
					}
					prev = le.Line
					b, ok := wantBad[le.Line]
					if !ok {
						t.Errorf("line %d reported invalid (%v), but it is good", le.Line, &le)
						continue
					}
					if le.Field != b.field || le.Reason == "" {
						t.Errorf("line %d (%s): reported %v, want field %q", le.Line, b.name, &le, b.field)
					}
				}
				if len(sum.InvalidLines) != len(wantBad) {
					t.Errorf("%d invalid lines listed, want %d: %v", len(sum.InvalidLines), len(wantBad), sum.InvalidLines)
				}
			})
		})
	}
}

// TestIngestInvalidListBounded checks that a stream of many invalid lines
// counts them all but lists only the first MaxListedInvalid, in order,
// including unknown anchors found after later parse errors.
func TestIngestInvalidListBounded(t *testing.T) {
	f := &lineFile{t: t, template: corpusTagLine(t)}
	total := ingest.MaxListedInvalid + 500
	for i := 0; i < total; i++ {
		if i%2 == 0 {
			f.add(func(m map[string]any) { m["attacker_uuid"] = fmt.Sprintf("missing-%d", i) })
		} else {
			f.raw("not json")
		}
	}
	s := openStore(t, freshSQLite(t))
	ingestCorpusFleet(t, s)
	sum, err := ingest.Tags(context.Background(), s, bytes.NewReader(f.buf.Bytes()), ingest.Options{BatchSize: 300})
	must(t, err)
	if sum.Invalid != int64(total) || len(sum.InvalidLines) != ingest.MaxListedInvalid {
		t.Fatalf("invalid %d, listed %d; want %d and %d", sum.Invalid, len(sum.InvalidLines), total, ingest.MaxListedInvalid)
	}
	for i, le := range sum.InvalidLines {
		if le.Line != i+1 {
			t.Fatalf("listed[%d] is line %d, want line %d", i, le.Line, i+1)
		}
	}
}

// TestIngestLineShapes covers how lines end: CRLF, a last line without a
// newline, a valid line longer than the reader's buffer, and a line over
// the limit followed by a good one.
func TestIngestLineShapes(t *testing.T) {
	f := &lineFile{t: t, template: corpusTagLine(t)}
	f.add(nil)
	f.buf.Truncate(f.buf.Len() - 1)
	f.buf.WriteString("\r\n")
	f.add(func(m map[string]any) { m["evidence"] = map[string]string{"pad": strings.Repeat("é", 200_000)} })
	tooLong := f.add(func(m map[string]any) { m["evidence"] = map[string]string{"pad": strings.Repeat("x", 2<<20)} })
	f.add(nil)
	f.buf.Truncate(f.buf.Len() - 1) // no newline at the end

	s := openStore(t, freshSQLite(t))
	ingestCorpusFleet(t, s)
	sum, err := ingest.Tags(context.Background(), s, bytes.NewReader(f.buf.Bytes()), ingest.Options{MaxLineBytes: 1 << 20})
	must(t, err)
	if sum.Lines != 4 || sum.Inserted != 3 || sum.Invalid != 1 || sum.InvalidLines[0].Line != tooLong {
		t.Fatalf("summary %+v, want 3 lines inserted and line %d too long", sum, tooLong)
	}
	if _, err := s.GetTag(context.Background(), "ingest-test-4"); err != nil {
		t.Errorf("the line after the too-long one: %v", err)
	}
	got, err := s.GetTag(context.Background(), "ingest-test-2")
	must(t, err)
	if len(got.Evidence) < 400_000 {
		t.Errorf("long evidence read back as %d bytes", len(got.Evidence))
	}
}

// TestIngestStopsOnCancel checks that a cancelled context stops the
// ingest with its error, and that only whole batches were written.
func TestIngestStopsOnCancel(t *testing.T) {
	s := openStore(t, freshSQLite(t))
	ingestCorpusFleet(t, s)
	raw, err := os.ReadFile(corpusDir + "tags.jsonl")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := ingest.Tags(ctx, s, bytes.NewReader(raw), ingest.Options{BatchSize: 100, Progress: func(p ingest.Summary) {
		if p.Inserted > 0 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	n, err := s.CountTags(context.Background())
	must(t, err)
	if n != sum.Inserted || sum.Inserted == 0 || sum.Lines >= 1656 {
		t.Errorf("stored %d, summary %+v: want the summary's inserted count, stopped early", n, sum)
	}
}

// TestIngestStopsOnCancelWhileInputIdle: a stream that has sent some
// lines and then nothing more (a terminal, a pipe whose writer waits)
// still stops the ingest once ctx ends. The batch is larger than what was
// sent, so the reader holds every line and waits for more; before, Tags
// waited with it, for a read that never returned.
func TestIngestStopsOnCancelWhileInputIdle(t *testing.T) {
	s := openStore(t, freshSQLite(t))
	ingestCorpusFleet(t, s)
	raw, err := os.ReadFile(corpusDir + "tags.jsonl")
	must(t, err)
	pr, pw := io.Pipe()
	defer pw.Close()
	sent := make(chan struct{})
	go func() {
		pw.Write(raw) // returns once the reader has taken all of it
		close(sent)
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		sum ingest.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := ingest.Tags(ctx, s, pr, ingest.Options{BatchSize: 100000})
		done <- result{sum, err}
	}()
	<-sent
	cancel()
	// A hang guard, not a measurement.
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("ingest still waiting on an idle input a minute after its context ended")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", r.err)
	}
	checkBalance(t, r.sum)
	n, err := s.CountTags(context.Background())
	must(t, err)
	if n != 0 || r.sum.Inserted != 0 {
		t.Errorf("stored %d, summary %+v: want nothing written, as no batch was complete", n, r.sum)
	}
}

// countingReader hands out at most 700 bytes a read and counts its reads.
type countingReader struct {
	r     io.Reader
	reads atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.r.Read(p[:min(len(p), 700)])
}

// TestIngestReadsNothingAfterReturn: once Tags has returned early (here
// cancelled after its first batch, with much of the stream left), its
// reader goroutine starts no new read of the input, which the caller may
// then use again. Only a read already in progress may still complete.
func TestIngestReadsNothingAfterReturn(t *testing.T) {
	s := openStore(t, freshSQLite(t))
	ingestCorpusFleet(t, s)
	raw, err := os.ReadFile(corpusDir + "tags.jsonl")
	must(t, err)
	cr := &countingReader{r: bytes.NewReader(bytes.Repeat(raw, 20))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = ingest.Tags(ctx, s, cr, ingest.Options{BatchSize: 2000, Progress: func(ingest.Summary) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	atReturn := cr.reads.Load()
	// Give a reader that went on reading time to show it; one that
	// stopped shows nothing however long this is.
	time.Sleep(300 * time.Millisecond)
	if later := cr.reads.Load() - atReturn; later > 1 {
		t.Errorf("%d reads of the input after Tags returned, want at most the one in progress", later)
	}
}

// TestIngestDefaultBatchFollowsBackend: with no batch size given, each
// backend writes batches of its own default, the one its measurements
// favour, so the first progress report comes after exactly that many tags.
func TestIngestDefaultBatchFollowsBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		want := ingest.DefaultBatchSize(s.Dialect())
		var reports []int64
		sum, err := ingest.Tags(ctx, s, tagStream(t, goodBatch("default-batch", want+3)), ingest.Options{Progress: func(p ingest.Summary) {
			reports = append(reports, p.Inserted)
		}})
		must(t, err)
		if len(reports) != 2 || reports[0] != int64(want) || reports[1] != int64(want+3) || sum.Inserted != int64(want+3) {
			t.Errorf("progress after %v tags, summary %+v; want after %d and %d", reports, sum, want, want+3)
		}
	})
}

// TestIngestHugeBatchSize: a batch size near the largest int is one
// batch for a short stream, not one batch a line (twice the size would
// overflow).
func TestIngestHugeBatchSize(t *testing.T) {
	s := openStore(t, freshSQLite(t))
	fleet(t, s)
	reports := 0
	sum, err := ingest.Tags(context.Background(), s, tagStream(t, goodBatch("huge-batch", 50)), ingest.Options{BatchSize: math.MaxInt, Progress: func(ingest.Summary) { reports++ }})
	must(t, err)
	if reports != 1 || sum.Inserted != 50 {
		t.Errorf("%d progress reports, summary %+v; want one batch of 50", reports, sum)
	}
}

// asciiJSON writes s as a JSON string with every character outside ASCII
// as \u escapes (two for a character outside the BMP): the longest way a
// valid line can spell its text fields.
func asciiJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < 0x80 && r >= 0x20 && r != '"' && r != '\\' {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestIngestLongestValidLineFits: a tag with every field at its limit in
// four-byte characters, each written as \u escapes, is within the default
// line bound and is stored; the bound refuses only lines no valid tag has.
func TestIngestLongestValidLineFits(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, freshSQLite(t))
	r := "😀"
	id := atLimit(r, ttprepo.MaxIDLen)
	must(t, s.UpsertCampaign(ctx, ttprepo.Campaign{UUID: id}))
	must(t, s.UpsertIdentity(ctx, ttprepo.Identity{UUID: id, CampaignID: &id}))
	must(t, s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: id, IP: id, IdentityID: &id}))
	fields := []string{
		`"uuid":` + asciiJSON(id),
		`"source_kind":` + asciiJSON(atLimit(r, ttprepo.MaxIDLen)),
		`"source_id":` + asciiJSON(atLimit(r, ttprepo.MaxSourceIDLen)),
		`"attacker_uuid":` + asciiJSON(id),
		`"identity_uuid":` + asciiJSON(id),
		`"session_id":` + asciiJSON(atLimit(r, ttprepo.MaxSessionIDLen)),
		`"decky_id":` + asciiJSON(atLimit(r, ttprepo.MaxSessionIDLen)),
		`"tactic":"TA0006"`, `"technique_id":"T1110"`, `"sub_technique_id":"T1110.001"`,
		`"confidence":1`,
		`"rule_id":` + asciiJSON(atLimit(r, ttprepo.MaxIDLen)),
		`"rule_version":2147483647`,
		`"evidence":` + string(evidenceOfLen(`\ud83d\ude00`, ttprepo.MaxEvidenceLen)),
		`"attack_release":` + asciiJSON(atLimit(r, ttprepo.MaxAttackReleaseLen)),
		`"mitre_url":` + asciiJSON(atLimit(r, ttprepo.MaxMitreURLLen)),
		`"created_at":"9999-12-31T23:59:59.999999Z"`,
	}
	line := "{" + strings.Join(fields, ",") + "}\n"
	sum, err := ingest.Tags(ctx, s, strings.NewReader(line), ingest.Options{})
	must(t, err)
	if sum.Inserted != 1 {
		t.Fatalf("a %d-byte line at every limit: summary %+v, want it stored", len(line), sum)
	}
	if len(line) > ingest.DefaultMaxLineBytes {
		t.Errorf("the longest valid line has %d bytes, over the default bound %d", len(line), ingest.DefaultMaxLineBytes)
	}
}

// TestIngestCancelDuringSplitKeepsTheSum cancels, at many moments, an
// ingest whose every batch holds an unknown attacker, so that most of its
// time is spent writing halves of refused batches. Whenever it stops, the
// summary must still add up and Inserted must match the store.
func TestIngestCancelDuringSplitKeepsTheSum(t *testing.T) {
	tags := goodBatch("split-cancel", 3000)
	for i := 49; i < len(tags); i += 50 {
		tags[i].AttackerUUID = ptr("nobody")
	}
	raw := tagStream(t, tags).Bytes()
	for i := range 12 {
		s := openStore(t, freshSQLite(t))
		fleet(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(i)*3*time.Millisecond, cancel)
		sum, err := ingest.Tags(ctx, s, bytes.NewReader(raw), ingest.Options{BatchSize: 500})
		timer.Stop()
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("after %d ms: %v", i*3, err)
		}
		n, err := s.CountTags(context.Background())
		must(t, err)
		checkBalance(t, sum)
		if n != sum.Inserted {
			t.Errorf("stopped after %d ms: summary %+v, store %d: inserted does not match the store", i*3, sum, n)
		}
	}
}
