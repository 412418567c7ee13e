package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func init() {
	register(&command{
		name:    "navigator",
		usage:   "[--identity ID | --attacker ID | --session ID | --campaign ID] [-o FILE]",
		summary: "write an ATT&CK Navigator layer (format 4.5) for a scope or the fleet",
		run:     runNavigator,
	})
}

func runNavigator(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("navigator", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var sf scopeFlags
	sf.register(fs)
	out := fs.String("o", "", "write the layer to FILE instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	scope, err := sf.scope(true)
	if err != nil {
		return err
	}

	s, err := openExistingStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := checkKnown(ctx, s, scope); err != nil {
		return err
	}
	layer, err := s.NavigatorLayer(ctx, scope)
	if err != nil {
		return err
	}

	// The layer is written without HTML escaping, so "ATT&CK" reads as
	// such in the file.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(layer); err != nil {
		return fmt.Errorf("encode layer: %w", err)
	}
	if *out == "" {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d techniques for %s\n", *out, len(layer.Techniques), scope)
	return nil
}
