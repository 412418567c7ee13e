package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

const goodLine = `{"uuid": "u1", "source_kind": "session", "source_id": "s\u00e9", "attacker_uuid": "a1", "identity_uuid": null, "session_id": null, "decky_id": null, "tactic": "TA0006", "technique_id": "T1110", "sub_technique_id": null, "confidence": 0.9, "rule_id": "R0003", "rule_version": 1, "evidence": {"k": "\ud83d\ude00"}, "attack_release": "15.1", "mitre_url": "", "created_at": "2026-03-09T10:44:00.000000Z"}`

func TestParseTagLineRefusesSilentChanges(t *testing.T) {
	if _, err := ParseTagLine(1, []byte(goodLine)); err != nil {
		t.Fatalf("control line refused: %v", err)
	}
	cases := []struct {
		name, from, to, field string
	}{
		{"key in another case", `"uuid": "u1"`, `"UUID": "u1"`, "uuid"},
		{"key given twice", `"rule_id": "R0003"`, `"rule_id": "R0003", "rule_id": "R9999"`, "rule_id"},
		{"lone high surrogate", `"source_id": "s\u00e9"`, `"source_id": "s\ud800x"`, "source_id"},
		{"lone low surrogate", `"source_id": "s\u00e9"`, `"source_id": "\udc00"`, "source_id"},
		{"high surrogate at the end", `"source_id": "s\u00e9"`, `"source_id": "x\ud83d"`, "source_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantFieldError(t, editedLine(t, c.from, c.to), c.field) })
	}
}

// editedLine is goodLine with from replaced by to.
func editedLine(t *testing.T, from, to string) []byte {
	t.Helper()
	line := strings.Replace(goodLine, from, to, 1)
	if line == goodLine {
		t.Fatal("case did not change the line")
	}
	return []byte(line)
}

// wantFieldError parses line as line 7 and fails unless it is refused
// with a LineError on field.
func wantFieldError(t *testing.T, line []byte, field string) {
	t.Helper()
	tag, err := ParseTagLine(7, line)
	var le *LineError
	if !errors.As(err, &le) || le.Field != field || le.Line != 7 {
		t.Fatalf("got confidence %v, err %v; want a line 7 error on %s", tag.Confidence, err, field)
	}
}

func TestParseTagLineKeepsPairsAndEscapedBackslashes(t *testing.T) {
	line := strings.Replace(goodLine, `"source_id": "s\u00e9"`, `"source_id": "\\ud800 \ud83d\ude00"`, 1)
	tag, err := ParseTagLine(1, []byte(line))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if want := `\ud800 😀`; tag.SourceID != want {
		t.Errorf("source_id = %q, want %q", tag.SourceID, want)
	}
}

func TestParseFleetLineRefusesCaseVariantKeys(t *testing.T) {
	_, err := ParseFleetLine(3, []byte(`{"kind": "attacker", "UUID": "a1", "ip": "192.0.2.1"}`))
	var le *LineError
	if !errors.As(err, &le) || le.Field != "uuid" {
		t.Fatalf("err = %v, want an error on uuid", err)
	}
}

func TestParseTagLineRefusesExplicitZeroTime(t *testing.T) {
	line := strings.Replace(goodLine, "2026-03-09T10:44:00.000000Z", "0001-01-01T00:00:00Z", 1)
	_, err := ParseTagLine(2, []byte(line))
	var le *LineError
	if !errors.As(err, &le) || le.Field != "created_at" {
		t.Fatalf("err = %v, want an error on created_at rather than the insert time", err)
	}
}

// TestParseFleetLineRefusesMisplacedFields: a field of another kind of
// record would be dropped unread, and an attacker with no ip would be
// stored with an empty one; both lines are refused, naming the field.
func TestParseFleetLineRefusesMisplacedFields(t *testing.T) {
	cases := []struct{ line, field, reason string }{
		{`{"kind": "campaign", "uuid": "c", "campaign_id": "zz"}`, "campaign_id", "does not belong to a campaign line"},
		{`{"kind": "campaign", "uuid": "c", "ip": "192.0.2.1"}`, "ip", "does not belong to a campaign line"},
		{`{"kind": "identity", "uuid": "i", "identity_id": "x"}`, "identity_id", "does not belong to an identity line"},
		{`{"kind": "identity", "uuid": "i", "ip": "192.0.2.1"}`, "ip", "does not belong to an identity line"},
		{`{"kind": "attacker", "uuid": "a", "ip": "192.0.2.1", "campaign_id": "c"}`, "campaign_id", "does not belong to an attacker line"},
		{`{"kind": "attacker", "uuid": "a"}`, "ip", ""},
		{`{"kind": "attacker", "uuid": "a", "ip": null}`, "ip", ""},
	}
	for _, c := range cases {
		_, err := ParseFleetLine(3, []byte(c.line))
		var le *LineError
		if !errors.As(err, &le) || le.Field != c.field || le.Line != 3 {
			t.Errorf("%s: %v, want a line 3 error on %s", c.line, err, c.field)
		} else if c.reason != "" && le.Reason != c.reason {
			t.Errorf("%s: reason %q, want %q", c.line, le.Reason, c.reason)
		}
	}
	// Null stands for absent, and an empty ip given as such is kept.
	for _, line := range []string{
		`{"kind": "campaign", "uuid": "c", "campaign_id": null, "ip": null}`,
		`{"kind": "attacker", "uuid": "a", "ip": "", "identity_id": null}`,
	} {
		if _, err := ParseFleetLine(1, []byte(line)); err != nil {
			t.Errorf("%s: %v, want it accepted", line, err)
		}
	}
}

// TestParseTagLineRefusesRoundedNumbersAndTimes: a confidence a float64
// cannot hold as written, and a created_at that time.Parse would read
// loosely or cut short, are refused on their field; the same values
// written exactly are read as written.
func TestParseTagLineRefusesRoundedNumbersAndTimes(t *testing.T) {
	const conf, at = `"confidence": 0.9`, `"created_at": "2026-03-09T10:44:00.000000Z"`
	refused := []struct{ name, from, to, field string }{
		{"confidence rounded up to the floor", conf, `"confidence": 0.29999999999999999`, "confidence"},
		{"confidence rounded down to one", conf, `"confidence": 1.0000000000000001`, "confidence"},
		{"confidence below the smallest double", conf, `"confidence": 1e-400`, "confidence"},
		{"confidence past the largest double", conf, `"confidence": 1e400`, "confidence"},
		{"confidence NaN", conf, `"confidence": NaN`, "confidence"},
		// strconv stops reading an exponent past 10,000: a long mantissa
		// and a large exponent must not pass for 0.3.
		{"confidence 3e-90002 written long", conf, `"confidence": 3` + strings.Repeat("0", 9999) + `e-100001`, "confidence"},
		{"confidence with an exponent past any int", conf, `"confidence": 9e-1000000000000000000000000000001`, "confidence"},
		{"confidence a string", conf, `"confidence": "0.9"`, "confidence"},
		{"evidence not JSON", `"evidence": {"k": "\ud83d\ude00"}`, `"evidence": {"k": }`, "evidence"},
		{"created_at digits past the ninth", at, `"created_at": "2026-03-09T10:44:00.1234560009Z"`, "created_at"},
		{"created_at a seventh digit", at, `"created_at": "2026-03-09T10:44:00.1234567Z"`, "created_at"},
		{"created_at offset hour 24", at, `"created_at": "2026-03-09T10:44:00+24:00"`, "created_at"},
		{"created_at offset minute 60", at, `"created_at": "2026-03-09T10:44:00+05:60"`, "created_at"},
		{"created_at comma before the fraction", at, `"created_at": "2026-03-09T10:44:00,5Z"`, "created_at"},
		{"created_at no offset", at, `"created_at": "2026-03-09T10:44:00"`, "created_at"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) { wantFieldError(t, editedLine(t, c.from, c.to), c.field) })
	}

	accepted := []struct {
		name, from, to string
		check          func(tag ttprepo.Tag) bool
	}{
		{"confidence with a trailing zero", conf, `"confidence": 0.30`, func(g ttprepo.Tag) bool { return g.Confidence == 0.3 }},
		{"confidence with an exponent", conf, `"confidence": 3E-1`, func(g ttprepo.Tag) bool { return g.Confidence == 0.3 }},
		{"confidence as its exact binary value", conf, `"confidence": 0.299999999999999988897769753748434595763683319091796875`, func(g ttprepo.Tag) bool { return g.Confidence == 0.3 }},
		{"confidence one", conf, `"confidence": 1.0`, func(g ttprepo.Tag) bool { return g.Confidence == 1 }},
		{"confidence 0.3 written long", conf, `"confidence": 0.` + strings.Repeat("0", 20000) + `3e20000`, func(g ttprepo.Tag) bool { return g.Confidence == 0.3 }},
		{"confidence padded with zeros", conf, `"confidence": 0.30000000000000004` + strings.Repeat("0", 1090), func(g ttprepo.Tag) bool { return g.Confidence == 0.30000000000000004 }},
		{"confidence the smallest subnormal", conf, `"confidence": 5e-324`, func(g ttprepo.Tag) bool { return g.Confidence == 5e-324 }},
		{"created_at zeros past the microsecond", at, `"created_at": "2026-03-09T10:44:00.123456000Z"`, func(g ttprepo.Tag) bool {
			return g.CreatedAt.Equal(time.Date(2026, 3, 9, 10, 44, 0, 123456000, time.UTC))
		}},
		{"created_at offset 23:59", at, `"created_at": "2026-03-09T10:44:00-23:59"`, func(g ttprepo.Tag) bool {
			return g.CreatedAt.Equal(time.Date(2026, 3, 10, 10, 43, 0, 0, time.UTC))
		}},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			tag, err := ParseTagLine(4, editedLine(t, c.from, c.to))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.check(tag) {
				t.Errorf("read as confidence %v, created_at %v", tag.Confidence, tag.CreatedAt)
			}
		})
	}
}

// TestParseFleetLineNamesAByteOrderMark: a file saved with a byte order
// mark fails on its first line with a reason that says so.
func TestParseFleetLineNamesAByteOrderMark(t *testing.T) {
	_, err := ParseFleetLine(1, []byte("\uFEFF"+`{"kind": "campaign", "uuid": "c1"}`))
	var le *LineError
	if !errors.As(err, &le) || !strings.Contains(le.Reason, "byte order mark") {
		t.Fatalf("err = %v, want one naming the byte order mark", err)
	}
}

// TestParseLinesRefuseTrailingDataAndNameTruncation: a stray '}' or ']'
// after a tag object is refused, and a line cut short names the field it
// ends inside, or none when it ends between fields.
func TestParseLinesRefuseTrailingDataAndNameTruncation(t *testing.T) {
	for _, tail := range []string{"}", "]", " ]]]}", " {}"} {
		if _, err := ParseTagLine(2, []byte(goodLine+tail)); err == nil {
			t.Errorf("a tag line followed by %q was accepted", tail)
		}
	}
	for _, c := range []struct {
		name, line, field string
		parse             func(int, []byte) error
	}{
		{"tag line cut inside evidence", goodLine[:strings.Index(goodLine, `"evidence": {`)+len(`"evidence": {"k"`)], "evidence", parseTag},
		{"tag line cut after a comma", goodLine[:strings.Index(goodLine, `, "source_kind"`)+1], "", parseTag},
		{"fleet line cut after a comma", `{"kind": "campaign", "uuid": "c1",`, "", parseFleet},
		{"fleet line cut inside a value", `{"kind": "campaign", "uuid": "c1`, "uuid", parseFleet},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(5, []byte(c.line))
			var le *LineError
			if !errors.As(err, &le) || le.Field != c.field || le.Line != 5 {
				t.Fatalf("err = %v, want a line 5 error on field %q", err, c.field)
			}
		})
	}
}

func parseTag(n int, line []byte) error   { _, err := ParseTagLine(n, line); return err }
func parseFleet(n int, line []byte) error { _, err := ParseFleetLine(n, line); return err }

// TestParseTagLineCutAfterANumberNamesNoField: a line that ends right
// after a number has a whole value there; what is missing is the end of
// the object, not part of that field.
func TestParseTagLineCutAfterANumberNamesNoField(t *testing.T) {
	err := parseTag(3, []byte(`{"uuid": "x", "confidence": 0.9`))
	var le *LineError
	if !errors.As(err, &le) || le.Field != "" {
		t.Fatalf("err = %v, want a line error naming no field", err)
	}
}
