package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

func init() {
	register(&command{
		name:    "ingest",
		usage:   "[--fleet FILE] [--batch N] [--json] [TAGS.jsonl | -]",
		summary: "migrate the database up, then load a fleet, then a tag stream (- for stdin)",
		run:     runIngest,
	})
}

// ingestReport is what ingest prints at the end, as a table or as JSON.
type ingestReport struct {
	Fleet *fileReport[ingest.FleetSummary] `json:"fleet,omitempty"`
	Tags  *fileReport[ingest.Summary]      `json:"tags,omitempty"`
}

type fileReport[S any] struct {
	File    string `json:"file"`
	Summary S      `json:"summary"`
}

// runIngest migrates the database up first, so that ingest works on a
// fresh file or an empty MySQL database, then loads the fleet, then the
// tags. It prints the summary even when it stops on an error, and exits 1
// when any line was invalid.
func runIngest(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fleetPath := fs.String("fleet", "", "fleet.jsonl to load before the tags")
	batch := fs.Int("batch", 0, fmt.Sprintf("kept tags written per transaction (default %d on SQLite, %d on MySQL)",
		ingest.DefaultSQLiteBatchSize, ingest.DefaultMySQLBatchSize))
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return fmt.Errorf("%w: one tag file at most", errUsage)
	}
	if len(rest) == 0 && *fleetPath == "" {
		return fmt.Errorf("%w: give a tag file, - for stdin, or --fleet", errUsage)
	}
	// 0 stands for the backend's default only when --batch is not given.
	if flagGiven(fs, "batch") && *batch <= 0 {
		return fmt.Errorf("%w: --batch must be positive", errUsage)
	}
	if *fleetPath == "-" && len(rest) == 1 && rest[0] == "-" {
		return fmt.Errorf("%w: only one of the fleet and the tags can come from stdin", errUsage)
	}

	s, err := openStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}

	var rep ingestReport
	err = ingestFiles(ctx, e, s, *fleetPath, rest, *batch, &rep)
	if perr := printIngestReport(e.stdout, rep, *asJSON); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	var invalid int64
	if rep.Fleet != nil {
		invalid += rep.Fleet.Summary.Invalid
	}
	if rep.Tags != nil {
		invalid += rep.Tags.Summary.Invalid
	}
	if invalid > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d invalid %s", invalid, plural(invalid, "line"))}
	}
	return nil
}

// ingestFiles loads the fleet then the tags into s, filling rep as it
// goes so that a failure still leaves the counts of what was done.
func ingestFiles(ctx context.Context, e *env, s *ttprepo.Store, fleetPath string, tagArgs []string, batch int, rep *ingestReport) error {
	if fleetPath != "" {
		r, closeFn, err := openInput(e, fleetPath)
		if err != nil {
			return err
		}
		sum, err := ingest.Fleet(ctx, s, r)
		closeFn()
		rep.Fleet = &fileReport[ingest.FleetSummary]{File: fleetPath, Summary: sum}
		if err != nil {
			return fmt.Errorf("%s: %w", fleetPath, err)
		}
	}
	if len(tagArgs) == 0 {
		return nil
	}

	path := tagArgs[0]
	r, closeFn, err := openInput(e, path)
	if err != nil {
		return err
	}
	defer closeFn()
	p := newProgress(e.stderr)
	sum, err := ingest.Tags(ctx, s, r, ingest.Options{BatchSize: batch, Progress: p.update})
	p.done()
	rep.Tags = &fileReport[ingest.Summary]{File: path, Summary: sum}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// openInput opens a file, or stdin for "-".
func openInput(e *env, path string) (io.Reader, func(), error) {
	if path == "-" {
		return e.stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func printIngestReport(w io.Writer, rep ingestReport, asJSON bool) error {
	if asJSON {
		return printJSON(w, rep)
	}
	if f := rep.Fleet; f != nil {
		s := f.Summary
		fmt.Fprintf(w, "fleet %s\n", f.File)
		if err := printTable(w, []string{"LINES", "BLANK", "INVALID", "CAMPAIGNS", "IDENTITIES", "ATTACKERS"}, [][]string{{
			itoa(s.Lines), itoa(s.Blank), itoa(s.Invalid), itoa(s.Campaigns), itoa(s.Identities), itoa(s.Attackers),
		}}); err != nil {
			return err
		}
		printInvalid(w, f.File, s.InvalidLines, s.Invalid)
	}
	if t := rep.Tags; t != nil {
		s := t.Summary
		if rep.Fleet != nil {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "tags %s\n", t.File)
		if err := printTable(w, []string{"LINES", "BLANK", "INVALID", "BELOW FLOOR", "ALREADY PRESENT", "INSERTED"}, [][]string{{
			itoa(s.Lines), itoa(s.Blank), itoa(s.Invalid), itoa(s.BelowFloor), itoa(s.AlreadyPresent), itoa(s.Inserted),
		}}); err != nil {
			return err
		}
		printInvalid(w, t.File, s.InvalidLines, s.Invalid)
	}
	return nil
}

// printInvalid lists refused lines as "FILE: line N: FIELD: REASON".
func printInvalid(w io.Writer, file string, lines []ingest.LineError, total int64) {
	for _, le := range lines {
		fmt.Fprintf(w, "%s: %v\n", file, &le)
	}
	if more := total - int64(len(lines)); more > 0 {
		fmt.Fprintf(w, "%s: %d more invalid %s not listed\n", file, more, plural(more, "line"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func plural(n int64, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// progress shows a one-line counter on stderr while a long ingest runs,
// only when stderr is a terminal: a log file or a pipe gets the summary
// alone.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time

	mu    sync.Mutex
	last  time.Time
	drawn bool
}

// progressEvery is how often the counter is redrawn at most.
const progressEvery = 200 * time.Millisecond

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	on := ok && term.IsTerminal(int(f.Fd()))
	return &progress{w: w, on: on, start: time.Now()}
}

func (p *progress) update(s ingest.Summary) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	rate := float64(s.Lines) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\033[K%d lines, %d inserted, %d invalid, %.0f lines/s", s.Lines, s.Inserted, s.Invalid, rate)
	p.drawn = true
}

// done clears the counter so that the summary starts on a clean line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
