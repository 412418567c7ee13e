package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// badLine is one refused line of a tags.jsonl file, and the field the
// report must name ("" when the line as a whole is wrong).
type badLine struct {
	name, field string
	line        []byte
}

// badLines turns every bad tag case into a tags.jsonl line, plus the
// faults only a line can have: broken JSON, invalid UTF-8 in the raw
// bytes, a created_at that does not parse.
func badLines(t *testing.T) []badLine {
	t.Helper()
	var out []badLine
	for i, tc := range badTagCases {
		tg := tag(fmt.Sprintf("cli-bad-%d", i), 0.9, goodBatch("x", 1)[0].CreatedAt)
		tc.mutate(&tg)
		if math.IsNaN(tg.Confidence) || math.IsInf(tg.Confidence, 0) || !utf8ValidTag(&tg) ||
			(tg.Evidence != nil && !json.Valid(tg.Evidence)) || tg.CreatedAt.Nanosecond()%1000 != 0 ||
			tg.CreatedAt.Year() < 1000 || tg.CreatedAt.Year() > 9999 {
			// JSON cannot carry these as such, or encoding/json would
			// change them; the raw lines below cover them.
			continue
		}
		raw, err := json.Marshal(tg)
		must(t, err, tc.name)
		if tg.Evidence == nil {
			raw = bytes.Replace(raw, []byte(`"evidence":null,`), nil, 1)
		}
		out = append(out, badLine{tc.name, tc.field, raw})
	}
	good, err := json.Marshal(tag("cli-raw", 0.9, goodBatch("x", 1)[0].CreatedAt))
	must(t, err)
	raw := func(name, field, old, new string) {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%s: %q not in %s", name, old, good)
		}
		out = append(out, badLine{name, field, bytes.Replace(good, []byte(old), []byte(new), 1)})
	}
	raw("confidence NaN", "confidence", `"confidence":0.9`, `"confidence":NaN`)
	raw("confidence huge", "confidence", `"confidence":0.9`, `"confidence":1e999`)
	raw("source_id invalid UTF-8", "", `"source_id":"cli-raw"`, "\"source_id\":\"cli-\xff\"")
	raw("evidence invalid JSON", "evidence", `"evidence":{"fail_count":12}`, `"evidence":{"fail_count":}`)
	raw("created_at unparsable", "created_at", `"created_at":"2026-03-01T12:00:00.123456Z"`, `"created_at":"yesterday"`)
	raw("created_at finer than a microsecond", "created_at", `"created_at":"2026-03-01T12:00:00.123456Z"`, `"created_at":"2026-03-01T12:00:00.1234567Z"`)
	raw("rule_version not a number", "rule_version", `"rule_version":1`, `"rule_version":"1"`)
	raw("not an object", "", string(good), `[1,2,3]`)
	raw("trailing data", "", string(good), string(good)+` {}`)
	return out
}

func utf8ValidTag(t *ttprepo.Tag) bool {
	for _, s := range []string{t.UUID, t.SourceKind, t.SourceID, t.RuleID, t.MitreURL, t.AttackRelease} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for _, p := range []*string{t.AttackerUUID, t.IdentityUUID, t.SessionID, t.DeckyID} {
		if p != nil && !utf8.ValidString(*p) {
			return false
		}
	}
	return true
}

// TestIngestCLIReportsBadLines runs `ttpctl ingest` over a file whose
// bad lines sit between good ones: every bad line is reported with its
// number (and field, when one is to blame), every good one is stored, the
// exit status is non-zero, and a second run stores nothing more.
func TestIngestCLIReportsBadLines(t *testing.T) {
	bin := buildTTPCtl(t)
	if out, _ := exec.Command(bin, "help").CombinedOutput(); !bytes.Contains(out, []byte("ingest")) {
		t.Fatalf("ttpctl has no ingest command:\n%s", out)
	}

	// fleet.jsonl for the fleet() helper's anchors.
	dir := t.TempDir()
	fleetPath := filepath.Join(dir, "fleet.jsonl")
	must(t, os.WriteFile(fleetPath, []byte(strings.Join([]string{
		`{"kind":"campaign","uuid":"c1"}`,
		`{"kind":"identity","uuid":"i1","campaign_id":"c1"}`,
		`{"kind":"identity","uuid":"i2","campaign_id":"c1"}`,
		`{"kind":"attacker","uuid":"a1","ip":"192.0.2.1","identity_id":"i1"}`,
		`{"kind":"attacker","uuid":"a2","ip":"192.0.2.2","identity_id":"i2"}`,
		`{"kind":"attacker","uuid":"a3","ip":"192.0.2.3","identity_id":null}`,
	}, "\n")+"\n"), 0o644))

	var (
		file  bytes.Buffer
		bad   = map[int]badLine{}
		goods = 0
		lineN = 0
	)
	for i, b := range badLines(t) {
		for j := range 2 {
			raw, err := json.Marshal(tag(fmt.Sprintf("cli-good-%d-%d", i, j), 0.9, goodBatch("x", 1)[0].CreatedAt))
			must(t, err)
			file.Write(raw)
			file.WriteByte('\n')
			lineN++
			goods++
		}
		file.Write(b.line)
		file.WriteByte('\n')
		lineN++
		bad[lineN] = b
	}
	tagsPath := filepath.Join(dir, "tags.jsonl")
	must(t, os.WriteFile(tagsPath, file.Bytes(), 0o644))

	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.open(t)
			ttpctl := func(args ...string) ([]byte, error) {
				cmd := exec.Command(bin, append([]string{"--db", dsn}, args...)...)
				cmd.Env = append(os.Environ(), "TTP_DB=")
				return cmd.CombinedOutput()
			}
			if out, err := ttpctl("migrate", "up"); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			out, err := ttpctl("ingest", "--fleet", fleetPath, tagsPath)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("ingest with %d bad lines: exit %v, want a non-zero status", len(bad), err)
			}
			for n, bl := range bad {
				re := regexp.MustCompile(`(?m)\bline ` + fmt.Sprint(n) + `\b.*$`)
				m := re.Find(out)
				if m == nil {
					t.Errorf("bad line %d (%s) not reported", n, bl.name)
					continue
				}
				if bl.field != "" && !bytes.Contains(m, []byte(bl.field)) {
					t.Errorf("bad line %d (%s): report %q does not name %s", n, bl.name, m, bl.field)
				}
			}

			s := openRaw(t, dsn)
			if n, err := s.CountTags(context.Background()); err != nil || n != int64(goods) {
				t.Errorf("stored %d, %v; want the %d good lines", n, err, goods)
			}
			out2, _ := ttpctl("ingest", "--fleet", fleetPath, tagsPath)
			if n, err := s.CountTags(context.Background()); err != nil || n != int64(goods) {
				t.Errorf("after a second run stored %d, %v; want %d\n%s", n, err, goods, out2)
			}
			if t.Failed() {
				t.Logf("first run output:\n%s", out)
			}
		})
	}
}
