package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/ttpstore/ttpstore/ttprepo"
)

func init() {
	register(&command{
		name:    "rollup",
		usage:   "identity|attacker|session|campaign ID [--json]",
		summary: "techniques seen in one scope",
		run:     runRollup,
	})
	register(&command{
		name:    "techniques",
		usage:   "[--json]",
		summary: "distinct techniques seen across the fleet",
		run:     runTechniques,
	})
}

func runRollup(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("rollup", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON array of rows")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return fmt.Errorf("%w: want a scope and an id", errUsage)
	}
	kind, id := rest[0], rest[1]
	switch kind {
	case "identity", "attacker", "session", "campaign":
	default:
		return fmt.Errorf("%w: unknown scope %q", errUsage, kind)
	}

	s, err := openExistingStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := checkKnown(ctx, s, ttprepo.Scope{Kind: ttprepo.ScopeKind(kind), ID: id}); err != nil {
		return err
	}
	return printRollup(ctx, e.stdout, s, kind, id, *asJSON)
}

// printRollup prints the rollup of one scope; demo shares it.
func printRollup(ctx context.Context, w io.Writer, s *ttprepo.Store, kind, id string, asJSON bool) error {
	if kind == "campaign" {
		rows, err := s.ListTechniquesByCampaign(ctx, id)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(w, nonNil(rows))
		}
		return printCampaignTable(w, rows)
	}

	var (
		rows []ttprepo.TechniqueRollup
		err  error
	)
	switch kind {
	case "identity":
		rows, err = s.ListTechniquesByIdentity(ctx, id)
	case "attacker":
		rows, err = s.ListTechniquesByAttacker(ctx, id)
	default:
		rows, err = s.ListTechniquesBySession(ctx, id)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, nonNil(rows))
	}
	return printRollupTable(w, rows)
}

func runTechniques(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("techniques", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON array of rows")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	s, err := openExistingStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	rows, err := s.ListDistinctTechniques(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, nonNil(rows))
	}
	return printFleetTable(e.stdout, rows)
}

// nonNil makes an empty result print as [] rather than null.
func nonNil[T any](rows []T) []T {
	if rows == nil {
		return []T{}
	}
	return rows
}

func printRollupTable(w io.Writer, rows []ttprepo.TechniqueRollup) error {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, []string{r.TechniqueID, fmtOpt(r.SubTechniqueID), r.Tactic, itoa(r.Count),
			fmtTime(r.FirstSeen), fmtTime(r.LastSeen), strconv.FormatFloat(r.ConfidenceMax, 'g', -1, 64)})
	}
	return printRows(w, []string{"TECHNIQUE", "SUB", "TACTIC", "COUNT", "FIRST SEEN", "LAST SEEN", "CONFIDENCE MAX"}, out)
}

func printCampaignTable(w io.Writer, rows []ttprepo.CampaignTechnique) error {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, []string{r.TechniqueID, fmtOpt(r.SubTechniqueID), r.Tactic, itoa(r.Count),
			itoa(r.IdentityCount), fmtTime(r.LastSeen)})
	}
	return printRows(w, []string{"TECHNIQUE", "SUB", "TACTIC", "COUNT", "IDENTITIES", "LAST SEEN"}, out)
}

func printFleetTable(w io.Writer, rows []ttprepo.FleetTechnique) error {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, []string{r.TechniqueID, fmtOpt(r.SubTechniqueID), r.Tactic, itoa(r.Count), fmtTime(r.LastSeen)})
	}
	return printRows(w, []string{"TECHNIQUE", "SUB", "TACTIC", "COUNT", "LAST SEEN"}, out)
}

// printRows prints a table, or says so when there is nothing in it.
func printRows(w io.Writer, headers []string, rows [][]string) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "(no techniques)")
		return err
	}
	return printTable(w, headers, rows)
}
