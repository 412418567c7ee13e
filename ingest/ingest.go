package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ttpstore/ttpstore/ttprepo"
)

const (
	// DefaultSQLiteBatchSize and DefaultMySQLBatchSize are how many kept
	// tags go into one InsertTags call, and so into one transaction, when
	// [Options] names none. Measured with ttpctl ingest on 1,000,000 lines
	// (2 cores, one run each):
	//
	// SQLite commits write every index page a batch touched, and tag ids
	// are spread evenly over the uuid index, so fewer, larger transactions
	// write far less: 45.5 s with batches of 5,000, 39.8 s with 10,000 and
	// 35.5 s with 20,000 (peak RSS 83, 91 and 126 MB).
	//
	// MariaDB (10.11, 128 MiB buffer pool) went the other way: 58.0 s with
	// 2,000, 56.9 and 57.6 s with 5,000, 67.2 and 67.0 s with 20,000.
	DefaultSQLiteBatchSize = 20000
	DefaultMySQLBatchSize  = 5000

	// MaxListedInvalid bounds the invalid lines a summary lists; the
	// count of invalid lines stays exact beyond it.
	MaxListedInvalid = 1000

	// maxBatchBytes also ends a batch, so that a stream of large lines
	// holds no more than this much line data at once. Typical lines (about
	// 640 bytes) fill a batch of either default size well before it.
	maxBatchBytes = 16 << 20
)

// DefaultBatchSize is the batch size [Tags] uses for a store of dialect d
// when [Options] names none.
func DefaultBatchSize(d ttprepo.Dialect) int {
	if d == ttprepo.MySQL {
		return DefaultMySQLBatchSize
	}
	return DefaultSQLiteBatchSize
}

// Options tunes [Tags]. The zero value is ready to use.
type Options struct {
	// BatchSize is how many kept tags are written per transaction;
	// DefaultBatchSize of the store's dialect when zero or less.
	BatchSize int

	// MaxLineBytes bounds one line; DefaultMaxLineBytes when zero or less.
	MaxLineBytes int

	// Progress, when set, is called with the counts so far after every
	// batch is written, at least every 2*BatchSize lines. The counts are
	// those of whole batches, so they always add up. The summary's
	// InvalidLines is shared with the ingest: read it, do not keep it.
	Progress func(Summary)
}

// Summary counts what became of every line of a tag stream:
//
//	Lines = Blank + Invalid + BelowFloor + AlreadyPresent + Inserted
//
// Blank lines (empty or only JSON white space) are skipped and counted, not
// refused: a trailing empty line is common in hand-edited files. A line
// below the confidence floor is valid but never stored, so it is counted
// as BelowFloor even when its attacker or identity is unknown. A kept
// line whose id is already stored, by an earlier run or by an earlier
// line of the same stream, is AlreadyPresent; the id alone decides, so a
// replay whose other fields differ (even one naming an unknown attacker)
// is AlreadyPresent too, as [ttprepo.Store.InsertTags] skips it unread.
type Summary struct {
	Lines          int64 `json:"lines"`
	Blank          int64 `json:"blank"`
	Invalid        int64 `json:"invalid"`
	BelowFloor     int64 `json:"below_floor"`
	AlreadyPresent int64 `json:"already_present"`
	Inserted       int64 `json:"inserted"`

	// InvalidLines lists the first MaxListedInvalid invalid lines by line
	// number; Invalid counts them all.
	InvalidLines []LineError `json:"invalid_lines"`
}

// FleetSummary counts what became of every line of a fleet stream:
//
//	Lines = Blank + Invalid + Campaigns + Identities + Attackers
type FleetSummary struct {
	Lines        int64       `json:"lines"`
	Blank        int64       `json:"blank"`
	Invalid      int64       `json:"invalid"`
	Campaigns    int64       `json:"campaigns"`
	Identities   int64       `json:"identities"`
	Attackers    int64       `json:"attackers"`
	InvalidLines []LineError `json:"invalid_lines"`
}

// fleetBatchSize is how many fleet records go into one transaction.
const fleetBatchSize = 1000

// Fleet upserts every campaign, identity and attacker of a fleet.jsonl
// stream, in order: a record must come after the one it points to. A line
// that does not parse, or that the store refuses as invalid input (such
// as an identity whose campaign is not stored), is counted and listed,
// and the rest still land. Any other error stops the ingest and is
// returned with the counts of the lines before the first record it left
// unwritten.
//
// Records are written fleetBatchSize at a time, each batch in one
// transaction ([ttprepo.Store.UpsertFleet]). When the store refuses a
// batch, the records before the refused one are written as one
// transaction and the rest of the batch is tried again, so that only the
// bad records are left out and each is listed under its own line.
func Fleet(ctx context.Context, s *ttprepo.Store, r io.Reader) (FleetSummary, error) {
	sum := FleetSummary{InvalidLines: []LineError{}}
	invalid := func(le LineError) {
		sum.Invalid++
		if len(sum.InvalidLines) < MaxListedInvalid {
			sum.InvalidLines = append(sum.InvalidLines, le)
		}
	}
	counted := func(rec FleetRecord) {
		switch {
		case rec.Campaign != nil:
			sum.Campaigns++
		case rec.Identity != nil:
			sum.Identities++
		default:
			sum.Attackers++
		}
	}

	// pending holds the lines read since the last write, in line order:
	// a record, or a line already found invalid (kept here so that the
	// invalid lines are listed in line order), or a blank line.
	type pendingLine struct {
		n     int
		rec   FleetRecord
		bad   *LineError
		blank bool
	}
	var (
		pending []pendingLine
		recs    []FleetRecord
	)
	flush := func() error {
		// Write recs, leaving out the records the store refuses. A refused
		// call names one bad record (the first that fails its checks, else
		// the first whose parent is missing); the records before it are
		// tried as one call, shrinking again on a refusal, and once that
		// call is written the named record is refused and the rest of the
		// batch is tried. Every call is one transaction, so a record is
		// counted exactly when its commit went through, even when ctx is
		// cancelled around it.
		refused := map[int]*ttprepo.InputError{}
		var (
			err    error
			done   int                 // recs[:done] are written or refused
			end    = len(recs)         // the call writes recs[done:end]
			reason *ttprepo.InputError // why recs[end] was refused, when end < len(recs)
		)
		for done < len(recs) {
			err = s.UpsertFleet(ctx, recs[done:end])
			var fe *ttprepo.FleetRecordError
			if errors.As(err, &fe) {
				end, reason, err = done+fe.Index, fe.Err, nil
				continue
			}
			if err != nil {
				break
			}
			if end == len(recs) {
				done = end
				break
			}
			refused[end] = reason
			done, end = end+1, len(recs)
		}
		// Count the lines up to the first record not written or refused.
		rec := 0
		for i, p := range pending {
			if p.bad == nil && !p.blank {
				if rec == done {
					pending = pending[i:]
					return fmt.Errorf("fleet lines %d to %d: %w", p.n, pending[len(pending)-1].n, err)
				}
				if ie := refused[rec]; ie != nil {
					p.bad = &LineError{Line: p.n, Field: ie.Field, Reason: ie.Reason}
				}
				rec++
			}
			sum.Lines++
			switch {
			case p.blank:
				sum.Blank++
			case p.bad != nil:
				invalid(*p.bad)
			default:
				counted(p.rec)
			}
		}
		pending, recs = pending[:0], recs[:0]
		return err
	}

	lr := newLineReader(r, DefaultMaxLineBytes)
	for {
		line, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			if len(pending) > 0 {
				return sum, flush()
			}
			return sum, nil
		}
		if err != nil {
			return sum, fmt.Errorf("read fleet line %d: %w", lr.n+1, err)
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		p := pendingLine{n: lr.n}
		switch {
		case tooLong:
			le := tooLongError(lr.n, lr.max)
			p.bad = &le
		case isBlank(line):
			p.blank = true
		default:
			rec, err := ParseFleetLine(lr.n, line)
			if err != nil {
				p.bad = asLineError(lr.n, err)
			} else {
				p.rec = rec
				recs = append(recs, rec)
			}
		}
		pending = append(pending, p)
		// Invalid and blank lines are held too, so they also end a batch.
		if len(recs) >= fleetBatchSize || len(pending) >= 4*fleetBatchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
}

// Tags streams a tags.jsonl stream into s in batches of opt.BatchSize
// kept tags, each written by one [ttprepo.Store.InsertTags] call in its
// own transaction, so memory stays bounded whatever the stream's length
// and a crash loses at most the batch being written: run the same stream
// again and the tag ids, being derived from the tags, make it land
// exactly once.
//
// A line that does not parse, fails [ttprepo.ValidateTag], is longer than
// opt.MaxLineBytes, or names an attacker or identity that is not stored is
// counted and listed as invalid, and the other lines still land. Any other
// error (the database failing, ctx done, a read error) stops the ingest
// and is returned with the counts of the batches already written (and
// Inserted, AlreadyPresent and Lines also count the lines of the failing
// batch already committed, so that Inserted always matches the store and
// the Summary's sum still holds).
//
// Tags returns, when ctx ends or on an error, without waiting for a read
// from r in progress (input that sends nothing would hold it forever);
// that one read may still complete after Tags has returned, and no other
// read of r starts.
//
// The next batch is read and parsed while the previous one is written,
// so that parsing (on SQLite it takes about 40% as much CPU as the
// write) overlaps the database's share; at most two batches are held at
// once.
func Tags(ctx context.Context, s *ttprepo.Store, r io.Reader, opt Options) (Summary, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize(s.Dialect())
	}
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = DefaultMaxLineBytes
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Read and parse in one goroutine, write in this one. readErr is read
	// only once batches is closed, which orders it after the write. The
	// channel is unbuffered: parsing is faster than writing, so a buffered
	// batch would only wait, and two batches in memory (one written, one
	// parsed) are enough to keep both goroutines busy.
	batches := make(chan *batch)
	var readErr error
	go func() {
		defer close(batches)
		readErr = readBatches(ctx, r, opt, batches)
	}()

	// An empty list, not nil, so that JSON shows [] rather than null.
	w := &batchWriter{s: s, opt: opt, sum: Summary{InvalidLines: []LineError{}}}
	for {
		select {
		case b, ok := <-batches:
			if !ok {
				return w.sum, readErr
			}
			if err := w.write(ctx, b); err != nil {
				return w.sum, err
			}
		case <-ctx.Done():
			// The reader may be blocked in a read that is not coming back
			// (a terminal or pipe that sends nothing): it is left to end
			// on its own, and sends nothing more once that read returns.
			return w.sum, ctx.Err()
		}
	}
}

// ctxReader stops reading once ctx has ended, so that after Tags returns
// (it cancels ctx first) its reader goroutine makes no new read of r: only
// a read already in progress can still complete.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// batch is a run of consecutive lines: the kept tags among them, with the
// line each came from, and the counts of the others.
type batch struct {
	tags  []ttprepo.Tag
	lines []int
	bytes int

	nLines, blank, belowFloor, invalid int64
	// refused lists the first MaxListedInvalid invalid lines of the run,
	// in order; invalid counts them all.
	refused []LineError
}

// readBatches cuts the stream into batches: one ends after BatchSize kept
// tags, maxBatchBytes of their lines, or 2*BatchSize lines in all, so
// that a long run of lines that are not kept still reports progress and
// keeps its list of refused lines short.
func readBatches(ctx context.Context, r io.Reader, opt Options, out chan<- *batch) error {
	lr := newLineReader(ctxReader{ctx, r}, opt.MaxLineBytes)
	b := &batch{}
	send := func() error {
		select {
		case out <- b:
			b = &batch{}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		line, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if b.nLines > 0 {
				send()
			}
			return fmt.Errorf("read line %d: %w", lr.n+1, err)
		}
		b.add(lr.n, line, tooLong, opt.MaxLineBytes)
		// nLines/2 rather than 2*BatchSize, which overflows for a huge BatchSize.
		if len(b.tags) >= opt.BatchSize || b.bytes >= maxBatchBytes || b.nLines/2 >= int64(opt.BatchSize) {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if b.nLines > 0 {
		return send()
	}
	return nil
}

// add sorts one line into blank, invalid, below the floor, or the batch.
func (b *batch) add(n int, line []byte, tooLong bool, maxLine int) {
	b.nLines++
	switch {
	case tooLong:
		b.refuse(tooLongError(n, maxLine))
		return
	case isBlank(line):
		b.blank++
		return
	}
	tag, err := ParseTagLine(n, line)
	if err != nil {
		b.refuse(*asLineError(n, err))
		return
	}
	if err := ttprepo.ValidateTag(0, &tag); err != nil {
		var te *ttprepo.TagError
		if errors.As(err, &te) {
			b.refuse(LineError{Line: n, Field: te.Field, Reason: te.Reason})
		} else {
			b.refuse(LineError{Line: n, Reason: err.Error()})
		}
		return
	}
	if tag.Confidence < ttprepo.ConfidenceFloor {
		b.belowFloor++
		return
	}
	b.tags = append(b.tags, tag)
	b.lines = append(b.lines, n)
	b.bytes += len(line)
}

// refuse counts an invalid line and lists it while the list has room.
// Lines arrive in order, so the first ones are the ones to keep.
func (b *batch) refuse(le LineError) {
	b.invalid++
	if len(b.refused) < MaxListedInvalid {
		b.refused = append(b.refused, le)
	}
}

// batchWriter writes batches in order and keeps the summary, which only
// ever counts whole batches.
type batchWriter struct {
	s   *ttprepo.Store
	opt Options
	sum Summary
	// committed counts the lines of the current batch already committed
	// by insert's calls.
	committed int64
}

// write writes one batch and adds its counts to the summary.
func (w *batchWriter) write(ctx context.Context, b *batch) error {
	w.committed = 0
	refused, err := w.insert(ctx, b.tags, b.lines)
	if err != nil {
		// The parts of the batch already committed are in Inserted and
		// AlreadyPresent; count their lines too, so the sum still holds.
		w.sum.Lines += w.committed
		return err
	}

	w.sum.Lines += b.nLines
	w.sum.Blank += b.blank
	w.sum.BelowFloor += b.belowFloor
	w.sum.Invalid += b.invalid + int64(len(refused))

	// Lines refused by the store are in line order among themselves, as
	// are those refused while parsing: merge the two, and keep the first
	// ones the list has room for.
	if room := MaxListedInvalid - len(w.sum.InvalidLines); room > 0 {
		all := append(b.refused, refused...)
		slices.SortStableFunc(all, func(x, y LineError) int { return x.Line - y.Line })
		w.sum.InvalidLines = append(w.sum.InvalidLines, all[:min(room, len(all))]...)
	}
	if w.opt.Progress != nil {
		w.opt.Progress(w.sum)
	}
	return nil
}

// insert writes tags, read from lines, in one InsertTags call and adds
// what it wrote and skipped to the summary. When the store refuses the
// call, most often for an attacker or identity that is not stored, it
// writes nothing, so the valid lines would be lost with the bad one:
// insert then splits the tags in two halves and writes each the same way,
// in order, down to single lines, and returns the lines refused alone.
//
// Halving rather than taking out the one tag the error names: a batch
// with many unknown anchors then costs about n log n rows written and
// rolled back instead of n squared; and on MySQL, where one statement
// writes many rows, the store names the first row of the statement with a
// missing anchor, which may be a replay of a stored id that the database
// skips without looking at its anchors. A single line is judged by the
// database alone, so the answer does not depend on the batch size. Lines
// keep their order, so a replay still follows the line it repeats. Each
// half commits on its own, which idempotent ids make safe to run again.
func (w *batchWriter) insert(ctx context.Context, tags []ttprepo.Tag, lines []int) ([]LineError, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	n, err := w.s.InsertTags(ctx, tags)
	if err == nil {
		w.sum.Inserted += int64(n)
		w.sum.AlreadyPresent += int64(len(tags) - n)
		w.committed += int64(len(tags))
		return nil, nil
	}
	var te *ttprepo.TagError
	if !errors.As(err, &te) {
		return nil, fmt.Errorf("write lines %d-%d: %w", lines[0], lines[len(lines)-1], err)
	}
	if len(tags) == 1 {
		return []LineError{{Line: lines[0], Field: te.Field, Reason: te.Reason}}, nil
	}
	half := len(tags) / 2
	first, err := w.insert(ctx, tags[:half], lines[:half])
	if err != nil {
		return nil, err
	}
	second, err := w.insert(ctx, tags[half:], lines[half:])
	return append(first, second...), err
}

// isBlank reports whether line holds nothing but JSON white space (space,
// tab, carriage return, line feed). Other white space, such as U+00A0, is
// not blank: such a line is reported as invalid rather than skipped.
func isBlank(line []byte) bool { return len(bytes.Trim(line, " \t\r\n")) == 0 }

func tooLongError(n, max int) LineError {
	return LineError{Line: n, Reason: fmt.Sprintf("is longer than %d bytes", max)}
}

// asLineError returns err as a *LineError for line n; the parsers return
// nothing else, but a plain error is wrapped rather than lost.
func asLineError(n int, err error) *LineError {
	var le *LineError
	if errors.As(err, &le) {
		return le
	}
	return &LineError{Line: n, Reason: err.Error()}
}
