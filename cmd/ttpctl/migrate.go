package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/pressly/goose/v3"
)

func init() {
	register(&command{
		name:    "migrate",
		usage:   "up|down|status",
		summary: "apply all migrations, roll back the latest one, or list them",
		run:     runMigrate,
	})
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	rest, err := parseArgs(flag.NewFlagSet("migrate", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: want one of up, down, status", errUsage)
	}
	action := rest[0]
	if action != "up" && action != "down" && action != "status" {
		return fmt.Errorf("%w: unknown action %q", errUsage, action)
	}

	s, err := openStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()

	switch action {
	case "up":
		v, err := s.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "schema at version %d\n", v)
	case "down":
		v, err := s.MigrateDown(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "schema at version %d\n", v)
	case "status":
		st, err := s.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		rows := make([][]string, 0, len(st))
		for _, m := range st {
			applied := "-"
			if m.State == goose.StateApplied {
				applied = fmtTime(m.AppliedAt)
			}
			rows = append(rows, []string{strconv.FormatInt(m.Source.Version, 10), m.Source.Path, string(m.State), applied})
		}
		return printTable(e.stdout, []string{"VERSION", "MIGRATION", "STATE", "APPLIED AT"}, rows)
	}
	return nil
}
