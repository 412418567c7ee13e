package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

func init() {
	register(&command{
		name:    "purge",
		usage:   "--before TIME [--release R] [--batch N] [--dry-run]",
		summary: "delete tags created before TIME, in short batches",
		run:     runPurge,
	})
}

func runPurge(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	before := fs.String("before", "", "cutoff: RFC 3339 (2026-03-01T00:00:00Z) or a UTC date (2026-03-01); older tags go")
	release := fs.String("release", "", "only tags of this ATT&CK release, e.g. 15.1")
	batch := fs.Int("batch", ttprepo.DefaultPurgeBatch, "tags deleted per transaction")
	dryRun := fs.Bool("dry-run", false, "count what would be deleted, delete nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *before == "" {
		return fmt.Errorf("%w: --before is required", errUsage)
	}
	cutoff, err := parseCutoff(*before)
	if err != nil {
		return fmt.Errorf("%w: --before: %v", errUsage, err)
	}
	if *batch <= 0 {
		return fmt.Errorf("%w: --batch must be positive", errUsage)
	}
	var rel *string
	what := "tags"
	if *release != "" {
		rel = release
		what = "tags of ATT&CK release " + *release
	}

	s, err := openExistingStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	stamp := cutoff.Format(time.RFC3339Nano)
	if *dryRun {
		n, err := s.CountTagsBefore(ctx, cutoff, rel)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "dry run: would delete %d %s created before %s\n", n, what, stamp)
		return nil
	}
	n, err := s.PurgeTagsBefore(ctx, cutoff, rel, *batch)
	if err != nil {
		return fmt.Errorf("%w (%d deleted before the failure)", err, n)
	}
	fmt.Fprintf(e.stdout, "deleted %d %s created before %s\n", n, what, stamp)
	return nil
}

// parseCutoff reads RFC 3339 with any fraction, or a date taken as
// midnight UTC.
func parseCutoff(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}
