package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// parseArgs parses a command's flags wherever they stand among its
// arguments, so that "rollup identity ID --json" works as well as
// "rollup --json identity ID": package flag alone stops at the first
// argument. "--" ends the flags. It returns the other arguments in order,
// and errUsage for a bad flag.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(discard{})
	var rest []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			fs.SetOutput(&b)
			fs.PrintDefaults()
			return nil, &helpError{flags: b.String()}
		} else if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		left := fs.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// helpError is -h or --help given to a command: it matches flag.ErrHelp
// and carries the command's flags with their defaults, for the help text.
type helpError struct{ flags string }

func (h *helpError) Error() string        { return flag.ErrHelp.Error() }
func (h *helpError) Is(target error) bool { return target == flag.ErrHelp }

// discard swallows package flag's own messages: errors come back as
// errUsage and are printed once, with the command's usage.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
