// Command ttpgen writes a synthetic fleet (fleet.jsonl) and tag stream
// (tags.jsonl) of any size with the proportions of testdata/fleet-small,
// for benchmarks and load tests:
//
//	ttpgen --scale 60 --seed 1 --out /tmp/fleet60
//	ttpgen --lines 1000000 --out /tmp/fleet1m
//
// The same flags always give the same files.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ttpstore/ttpstore/internal/fleetgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ttpgen:", err)
		os.Exit(1)
	}
}

func run() error {
	scale := flag.Int("scale", 0, "fleet size in units of fleet-small (default: from --lines, else 1)")
	lines := flag.Int("lines", 0, "tag stream length (default: scale*1720)")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("out", "", "output directory (created if missing)")
	rules := flag.String("rules", "testdata/rules.json", "rules file")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		return fmt.Errorf("--out is required")
	}
	if *scale < 0 || *lines < 0 {
		return fmt.Errorf("--scale and --lines must not be negative")
	}
	if *scale == 0 {
		*scale = max(1, (*lines+fleetgen.LinesPerUnit/2)/fleetgen.LinesPerUnit)
	}
	rs, err := fleetgen.LoadRules(*rules)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	fleetFile, err := os.Create(filepath.Join(*out, "fleet.jsonl"))
	if err != nil {
		return err
	}
	defer fleetFile.Close()
	tagsFile, err := os.Create(filepath.Join(*out, "tags.jsonl"))
	if err != nil {
		return err
	}
	defer tagsFile.Close()

	cfg := fleetgen.Config{Scale: *scale, Lines: *lines, Seed: *seed, Rules: rs}
	st, err := fleetgen.Generate(cfg, fleetFile, tagsFile)
	if err != nil {
		return err
	}
	if err := fleetFile.Close(); err != nil {
		return err
	}
	if err := tagsFile.Close(); err != nil {
		return err
	}
	// A replay of a below-floor line is counted here as a replay;
	// ttpctl ingest drops it before looking for duplicates and so counts
	// it as below the floor.
	fmt.Fprintf(os.Stderr, "ttpgen: scale %d: %d tag lines (%d replays of an earlier line, %d fresh lines below the floor) in %s\n",
		*scale, st.Lines, st.Replays, st.BelowFloor, *out)
	return nil
}
