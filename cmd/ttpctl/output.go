package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// openStore opens the store named by the global --db flag. The caller
// closes it.
func openStore(ctx context.Context, e *env) (*ttprepo.Store, error) {
	return openStoreMode(ctx, e, false)
}

// openExistingStore opens the store for a command that only reads or
// deletes: a SQLite file that does not exist is an error, not a new empty
// database left behind by a mistyped path.
func openExistingStore(ctx context.Context, e *env) (*ttprepo.Store, error) {
	return openStoreMode(ctx, e, true)
}

func openStoreMode(ctx context.Context, e *env, mustExist bool) (*ttprepo.Store, error) {
	if path, ok := ttprepo.SQLitePath(e.dsn); ok && mustExist && path != ":memory:" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no database at %s: create it with 'ttpctl --db %s migrate up' or 'ttpctl ingest'", path, e.dsn)
		}
	}
	s, err := ttprepo.Open(ctx, e.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", e.dsn, err)
	}
	return s, nil
}

// checkKnown fails when sc is an identity, attacker or campaign the store
// does not hold. An unknown id and a scope with no tags both give empty
// answers; a mistyped id should not read as "nothing seen". Sessions and
// the fleet are not checked: a session is known only by its tags.
func checkKnown(ctx context.Context, s *ttprepo.Store, sc ttprepo.Scope) error {
	if sc.Kind == ttprepo.ScopeSession || sc.Kind == ttprepo.ScopeFleet {
		return nil
	}
	known, err := s.Exists(ctx, sc)
	if err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("no %s %q in the store", sc.Kind, sc.ID)
	}
	return nil
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
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = printable(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// printable escapes control characters in a table cell. Stored values
// come from attacker activity: a decky id holding an ANSI escape sequence
// must not reach the terminal raw, and a newline in evidence must not
// break the table's rows. --json output needs no such care.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
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
