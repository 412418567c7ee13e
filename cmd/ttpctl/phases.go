package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/ttpstore/ttpstore/ttprepo"
)

func init() {
	register(&command{
		name:    "phases",
		usage:   "IDENTITY [--json]",
		summary: "an identity's tactics per decky on the Unified Kill Chain",
		run:     runPhases,
	})
}

func runPhases(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("phases", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	identity := fs.String("identity", "", "the identity, instead of the IDENTITY argument")
	asJSON := fs.Bool("json", false, "print observations and per-decky summaries as JSON")
	// The identity may come first as a plain argument, flags after it.
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		if *identity != "" {
			return fmt.Errorf("%w: identity given twice", errUsage)
		}
		*identity = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	if *identity == "" {
		return fmt.Errorf("%w: --identity is required", errUsage)
	}

	s, err := openExistingStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := checkKnown(ctx, s, ttprepo.Scope{Kind: ttprepo.ScopeIdentity, ID: *identity}); err != nil {
		return err
	}
	kc, err := s.KillChainByIdentity(ctx, *identity)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, kc)
	}

	obs := make([][]string, 0, len(kc.Steps))
	for _, st := range kc.Steps {
		obs = append(obs, []string{st.DeckyID, fmtTime(st.CreatedAt), st.Tactic, fmtPhase(st.Phase), st.Phase.Cycle})
	}
	if err := printTable(e.stdout, []string{"DECKY", "CREATED_AT", "TACTIC", "PHASE", "CYCLE"}, obs); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	sums := make([][]string, 0, len(kc.Deckies))
	for _, d := range kc.Deckies {
		sums = append(sums, []string{
			d.DeckyID, strconv.Itoa(d.Observations),
			fmtTime(d.FirstSeen), d.FirstTactic + " " + fmtPhase(d.FirstPhase),
			fmtTime(d.LastSeen), d.LastTactic + " " + fmtPhase(d.LastPhase),
			fmtPhase(d.FurthestPhase),
		})
	}
	return printTable(e.stdout, []string{"DECKY", "OBS", "FIRST_SEEN", "FIRST_PHASE", "LAST_SEEN", "LAST_PHASE", "FURTHEST"}, sums)
}

// fmtPhase renders a phase as "13 Credential Access".
func fmtPhase(p ttprepo.KillChainPhase) string {
	if p.Order == 0 {
		return "(unmapped)"
	}
	return strconv.Itoa(p.Order) + " " + p.Name
}
