package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DefaultMaxLineBytes bounds one input line. A longer line is skipped
// without being held in memory and reported as invalid. No valid tag comes
// near it: evidence is limited to [ttprepo.MaxEvidenceLen] (1 MiB) and the
// other fields to a few hundred characters each, a few KiB even with every
// character written as a \u escape. A bound close to the largest valid
// line also bounds memory: lines of 16 MiB, refused later for their
// evidence, took ttpctl ingest to 241 MB resident under a 16 MiB bound.
const DefaultMaxLineBytes = 2 << 20

// lineReader yields the lines of a stream one at a time, of any length up
// to max bytes, in memory bounded by max whatever the stream's size.
// bufio.Scanner is not used because it stops the whole stream at the first
// line over its limit, where a too-long line here is one bad line among
// good ones.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte // holds a line longer than the bufio buffer
	n   int    // number of the line last returned, from 1
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its line ending, valid until the
// next call. tooLong is set, with no bytes, when the line was longer than
// max. It returns io.EOF after the last line; a last line without a
// newline is still a line.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	// Give back the memory of a rare long line instead of keeping it.
	if cap(lr.buf) > 1<<20 {
		lr.buf = nil
	}
	lr.buf = lr.buf[:0]
	total := 0
	for {
		chunk, err := lr.r.ReadSlice('\n')
		total += len(chunk)

		// The common case, a line that fits in the bufio buffer, is
		// returned from that buffer without a copy.
		if err == nil && total == len(chunk) {
			lr.n++
			return lr.result(chunk, total)
		}
		// Keep at most max bytes plus a line ending; beyond that only
		// count, so that memory stays bounded.
		if len(lr.buf)+len(chunk) <= lr.max+2 {
			lr.buf = append(lr.buf, chunk...)
		}

		switch {
		case err == nil:
			lr.n++
			return lr.result(lr.buf, total)
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if total == 0 {
				return nil, false, io.EOF
			}
			lr.n++
			return lr.result(lr.buf, total)
		default:
			return nil, false, err
		}
	}
}

// result trims the line ending of a line of total bytes read and decides
// whether it was too long.
func (lr *lineReader) result(line []byte, total int) ([]byte, bool, error) {
	eol := 0
	if bytes.HasSuffix(line, []byte("\n")) {
		eol = 1
		if bytes.HasSuffix(line, []byte("\r\n")) {
			eol = 2
		}
	}
	if total-eol > lr.max {
		return nil, true, nil
	}
	return line[:len(line)-eol], false, nil
}
