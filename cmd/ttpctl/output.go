package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// openStore opens the store named by the global --db flag. The caller
// closes it.
func openStore(ctx context.Context, e *env) (*ttprepo.Store, error) {
	s, err := ttprepo.Open(ctx, e.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", e.dsn, err)
	}
	return s, nil
}

// printJSON writes v as indented JSON. Times in the domain types are UTC,
// so they encode as RFC 3339 with a Z.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable writes rows under headers as aligned columns.
func printTable(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fmtTime renders an instant for a table: RFC 3339 in UTC, microseconds.
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// fmtOpt renders an optional string for a table, "-" for none.
func fmtOpt(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
