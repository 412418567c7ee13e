// Command ttpctl migrates, fills and queries a ttpstore database: it
// ingests fleet and tag JSON Lines files and prints technique rollups as
// tables or JSON.
//
// Usage:
//
//	ttpctl [--db DSN] COMMAND [ARGS]
//
// The DSN defaults to $TTP_DB, then to the embedded SQLite file
// ttpstore.db in the current directory. Run "ttpctl help" for the
// commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
)

// defaultDSN is used when neither --db nor TTP_DB is given.
const defaultDSN = "sqlite:ttpstore.db"

// command is one ttpctl subcommand. Each lives in its own file and
// registers itself from init.
type command struct {
	name    string
	usage   string // argument synopsis, after the command name
	summary string // one line for "ttpctl help"
	run     func(ctx context.Context, env *env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// env is what every command gets: where to write, and the chosen DSN.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	dsn    string
	// dsnGiven is set when --db named the DSN on the command line, as
	// opposed to TTP_DB or the default.
	dsnGiven bool
}

// errUsage marks a usage mistake: ttpctl prints the usage and exits 2.
var errUsage = errors.New("usage")

// exitError carries an exit status chosen by a command (ingest exits 1
// when some lines were invalid, after printing its summary).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The first interrupt asks the command to stop cleanly; once it has,
	// the default action is back, so a second one ends the process even
	// while a command waits on a stdin that sends nothing.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
}

// run parses the global flags, dispatches to a command and maps its error
// to an exit status.
func run(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("ttpctl", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dsn := fs.String("db", "", "database DSN: sqlite:PATH, PATH, or mysql://USER@tcp(HOST:PORT)/DB (default $TTP_DB, then "+defaultDSN+")")
	fs.Usage = func() { usage(e.stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "db" })
	if given && *dsn == "" {
		// An unset variable in a script (--db "$DB") must not fall back
		// to another database without a word.
		fmt.Fprintln(e.stderr, "ttpctl: --db is empty")
		return 2
	}
	e.dsn, e.dsnGiven = *dsn, given
	if e.dsn == "" {
		e.dsn = os.Getenv("TTP_DB")
	}
	if e.dsn == "" {
		e.dsn = defaultDSN
	}

	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		usage(e.stdout)
		if len(rest) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "ttpctl: unknown command %q\n\n", rest[0])
		usage(e.stderr)
		return 2
	}
	err := c.run(ctx, e, rest[1:])
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(e.stdout, "usage: ttpctl [--db DSN] %s %s\n%s\n", c.name, c.usage, c.summary)
		if he := (*helpError)(nil); errors.As(err, &he) && he.flags != "" {
			fmt.Fprintf(e.stdout, "\nflags:\n%s", he.flags)
		}
		return 0
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// Interrupted (Ctrl-C): what was committed stays, and running the
		// same command again carries on idempotently.
		fmt.Fprintf(e.stderr, "ttpctl %s: interrupted\n", c.name)
		return 130
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "ttpctl: %v\nusage: ttpctl [--db DSN] %s %s\n", err, c.name, c.usage)
		return 2
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(e.stderr, "ttpctl %s: %s\n", c.name, ee.msg)
		}
		return ee.code
	default:
		fmt.Fprintf(e.stderr, "ttpctl %s: %v\n", c.name, err)
		if missingSchema(err) {
			fmt.Fprintf(e.stderr, "ttpctl: the database has no ttpstore schema yet: run 'ttpctl migrate up' (ingest does it itself)\n")
		}
		return 1
	}
}

// missingSchema reports an error from a database whose tables were never
// created: SQLite's "no such table", MySQL's error 1146.
func missingSchema(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "Error 1146")
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: ttpctl [--db DSN] COMMAND [ARGS]\n\n")
	fmt.Fprintf(w, "DSN: sqlite:PATH or PATH (embedded SQLite), mysql://USER:PASS@tcp(HOST:PORT)/DB;\n")
	fmt.Fprintf(w, "default $TTP_DB, then %s.\n\ncommands:\n", defaultDSN)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(w, "  %-40s %s\n", strings.TrimSpace(c.name+" "+c.usage), c.summary)
	}
}
