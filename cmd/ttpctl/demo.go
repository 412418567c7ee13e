package main

import (
	"bytes"
	"context"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// The sample fleet is a copy of testdata/fleet-small: go:embed cannot
// reach outside this package's directory.
var (
	//go:embed sample/fleet.jsonl
	sampleFleet []byte
	//go:embed sample/tags.jsonl
	sampleTags []byte
)

func init() {
	register(&command{
		name:    "demo",
		usage:   "",
		summary: "ingest a bundled sample fleet into a fresh SQLite file (or --db) and tour its rollups",
		run:     runDemo,
	})
}

// runDemo works on a new SQLite file in a temporary directory unless
// --db was given on the command line; TTP_DB is ignored here so that the
// sample never lands in a database the user set up for real data.
func runDemo(ctx context.Context, e *env, args []string) error {
	rest, err := parseArgs(flag.NewFlagSet("demo", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	dsn := e.dsn
	if !e.dsnGiven {
		dir, err := os.MkdirTemp("", "ttpstore-demo-")
		if err != nil {
			return fmt.Errorf("temp dir: %w", err)
		}
		dsn = "sqlite:" + filepath.Join(dir, "demo.db")
	}
	w := e.stdout

	// Migrate and ingest, as "ttpctl migrate up" and "ttpctl ingest" do.
	s, err := ttprepo.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", dsn, err)
	}
	defer s.Close()
	v, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "database %s, schema version %d\n\n", dsn, v)
	fleet, err := ingest.Fleet(ctx, s, bytes.NewReader(sampleFleet))
	if err != nil {
		return fmt.Errorf("sample fleet: %w", err)
	}
	tags, err := ingest.Tags(ctx, s, bytes.NewReader(sampleTags), ingest.Options{})
	if err != nil {
		return fmt.Errorf("sample tags: %w", err)
	}
	if err := printIngestReport(w, ingestReport{
		Fleet: &fileReport[ingest.FleetSummary]{File: "sample/fleet.jsonl", Summary: fleet},
		Tags:  &fileReport[ingest.Summary]{File: "sample/tags.jsonl", Summary: tags},
	}, false); err != nil {
		return err
	}

	// A tour: the whole fleet, then the busiest identity, attacker and
	// campaign of the sample.
	fmt.Fprintf(w, "\n$ ttpctl techniques\n")
	techs, err := s.ListDistinctTechniques(ctx)
	if err != nil {
		return err
	}
	if err := printFleetTable(w, techs); err != nil {
		return err
	}
	for _, kind := range []string{"identity", "attacker", "campaign"} {
		id, err := busiest(ctx, s, kind)
		if err != nil {
			return err
		}
		if id == "" {
			continue
		}
		fmt.Fprintf(w, "\n$ ttpctl rollup %s %s\n", kind, id)
		if err := printRollup(ctx, w, s, kind, id, false); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nThe database is kept: explore it with\n  ttpctl --db %s rollup identity ID --json\n", dsn)
	return nil
}

// busiest returns the id of kind in the sample fleet whose rollup has the
// most rows, the first in file order on a tie.
func busiest(ctx context.Context, s *ttprepo.Store, kind string) (string, error) {
	best, bestN := "", 0
	for n, line := range bytes.Split(bytes.TrimSpace(sampleFleet), []byte("\n")) {
		rec, err := ingest.ParseFleetLine(n+1, line)
		if err != nil {
			return "", err
		}
		var id string
		var rows int
		switch {
		case kind == "identity" && rec.Identity != nil:
			id = rec.Identity.UUID
			r, err := s.ListTechniquesByIdentity(ctx, id)
			if err != nil {
				return "", err
			}
			rows = len(r)
		case kind == "attacker" && rec.Attacker != nil:
			id = rec.Attacker.UUID
			r, err := s.ListTechniquesByAttacker(ctx, id)
			if err != nil {
				return "", err
			}
			rows = len(r)
		case kind == "campaign" && rec.Campaign != nil:
			id = rec.Campaign.UUID
			r, err := s.ListTechniquesByCampaign(ctx, id)
			if err != nil {
				return "", err
			}
			rows = len(r)
		}
		if rows > bestN {
			best, bestN = id, rows
		}
	}
	return best, nil
}
