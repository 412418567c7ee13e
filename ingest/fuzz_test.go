package ingest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// FuzzParseTagLine feeds arbitrary bytes to the tag-line parser. It must
// never panic; a refusal is a *LineError for the line given; an accepted
// line, written out again and parsed again, gives the same tag, evidence
// byte for byte; and validation decides the same on both.
//
// Seeds: testdata/fuzz/FuzzParseTagLine, plus the first lines of the
// fleet-small corpus.
func FuzzParseTagLine(f *testing.F) {
	if raw, err := os.Open("../testdata/fleet-small/tags.jsonl"); err == nil {
		sc := bufio.NewScanner(raw)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for i := 0; i < 20 && sc.Scan(); i++ {
			f.Add(bytes.Clone(sc.Bytes()))
		}
		raw.Close()
	}

	f.Fuzz(func(t *testing.T, line []byte) {
		tag, err := ingest.ParseTagLine(41, line)
		if err != nil {
			var le *ingest.LineError
			if !errors.As(err, &le) || le.Line != 41 || !errors.Is(err, ingest.ErrBadLine) {
				t.Fatalf("refusal %v (%T) is not a LineError for line 41", err, err)
			}
			if le.Reason == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}

		again, err := ingest.ParseTagLine(1, encodeTagLine(t, tag))
		if err != nil {
			t.Fatalf("accepted tag %+v, written out again, is refused: %v", tag, err)
		}
		if !reflect.DeepEqual(again, tag) {
			t.Fatalf("tag changed on a second pass:\n first  %+v\n second %+v", tag, again)
		}

		v1, v2 := ttprepo.ValidateTag(0, &tag), ttprepo.ValidateTag(0, &again)
		if (v1 == nil) != (v2 == nil) {
			t.Fatalf("validation differs between passes: %v vs %v", v1, v2)
		}
		if v1 != nil {
			var te *ttprepo.TagError
			if !errors.As(v1, &te) || te.Field == "" {
				t.Fatalf("validation error %v is not a TagError naming a field", v1)
			}
		}
	})
}

// encodeTagLine writes tag as a tags.jsonl line. Evidence is spliced in
// as its exact bytes: encoding/json would re-format a RawMessage.
func encodeTagLine(t *testing.T, tag ttprepo.Tag) []byte {
	t.Helper()
	evidence := tag.Evidence
	tag.Evidence = json.RawMessage(`0`)
	var createdAt *string
	if !tag.CreatedAt.IsZero() {
		s := tag.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00")
		createdAt = &s
	}
	wire := struct {
		ttprepo.Tag
		CreatedAt *string `json:"created_at"`
	}{tag, createdAt}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wire); err != nil {
		t.Fatalf("encode %+v: %v", tag, err)
	}
	out := bytes.TrimRight(buf.Bytes(), "\n")
	if evidence == nil {
		// A line without evidence; "null" would be kept as the text null.
		return bytes.Replace(out, []byte(`"evidence":0,`), nil, 1)
	}
	return bytes.Replace(out, []byte(`"evidence":0`), append([]byte(`"evidence":`), evidence...), 1)
}
