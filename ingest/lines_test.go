package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLineReader checks line splitting at the bufio buffer's edges: CRLF,
// no final newline, a line longer than the buffer, and lines over the
// limit skipped without losing the next one. The reader is fed a byte at
// a time as well, to exercise short reads.
func TestLineReader(t *testing.T) {
	long := strings.Repeat("a", 200_000)    // over the 64 KiB buffer, within the limit
	tooLong := strings.Repeat("b", 300_001) // over the limit
	type got struct {
		line    string
		tooLong bool
	}
	cases := []struct {
		name string
		in   string
		want []got
	}{
		{"empty", "", nil},
		{"one without newline", "x", []got{{"x", false}}},
		{"blank lines", "\n\n", []got{{"", false}, {"", false}}},
		{"crlf", "a\r\nb\n", []got{{"a", false}, {"b", false}}},
		{"long", "1\n" + long + "\n2", []got{{"1", false}, {long, false}, {"2", false}}},
		{"too long", tooLong + "\nnext\n" + tooLong, []got{{"", true}, {"next", false}, {"", true}}},
		{"exactly the limit", long[:100] + strings.Repeat("c", 300_000-100) + "\r\n", []got{{long[:100] + strings.Repeat("c", 300_000-100), false}}},
	}
	for _, c := range cases {
		for _, slow := range []bool{false, true} {
			var r io.Reader = strings.NewReader(c.in)
			if slow {
				r = iotest.OneByteReader(r)
			}
			lr := newLineReader(r, 300_000)
			var out []got
			for {
				line, tl, err := lr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				out = append(out, got{string(line), tl})
				if lr.n != len(out) {
					t.Errorf("%s: line number %d after %d lines", c.name, lr.n, len(out))
				}
			}
			if len(out) != len(c.want) {
				t.Errorf("%s (slow %v): %d lines, want %d", c.name, slow, len(out), len(c.want))
				continue
			}
			for i := range out {
				if out[i] != c.want[i] {
					t.Errorf("%s (slow %v): line %d = %.20q (too long %v), want %.20q (%v)",
						c.name, slow, i+1, out[i].line, out[i].tooLong, c.want[i].line, c.want[i].tooLong)
				}
			}
		}
	}
}
