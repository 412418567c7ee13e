package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/ttpstore/ttpstore/ttprepo"
)

func init() {
	register(&command{
		name:    "tags",
		usage:   "(--identity ID | --attacker ID | --session ID | --campaign ID) [--technique T [--sub S]] [--limit N] [--cursor C] [--json]",
		summary: "raw tags behind a rollup row, newest first, a page at a time",
		run:     runTags,
	})
}

// scopeFlags are the mutually exclusive scope options shared by the
// analyst commands.
type scopeFlags struct {
	identity, attacker, session, campaign string
}

func (f *scopeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.identity, "identity", "", "identity id: its own tags and its attackers' tags")
	fs.StringVar(&f.attacker, "attacker", "", "attacker id")
	fs.StringVar(&f.session, "session", "", "session id")
	fs.StringVar(&f.campaign, "campaign", "", "campaign id: the union of its identities' scopes")
}

// scope returns the one scope given, the fleet when none is and
// fleetOK, and a usage error otherwise.
func (f *scopeFlags) scope(fleetOK bool) (ttprepo.Scope, error) {
	var scopes []ttprepo.Scope
	for _, c := range []struct {
		kind ttprepo.ScopeKind
		id   string
	}{{ttprepo.ScopeIdentity, f.identity}, {ttprepo.ScopeAttacker, f.attacker}, {ttprepo.ScopeSession, f.session}, {ttprepo.ScopeCampaign, f.campaign}} {
		if c.id != "" {
			scopes = append(scopes, ttprepo.Scope{Kind: c.kind, ID: c.id})
		}
	}
	switch {
	case len(scopes) == 1:
		return scopes[0], nil
	case len(scopes) == 0 && fleetOK:
		return ttprepo.Scope{}, nil
	case len(scopes) == 0:
		return ttprepo.Scope{}, fmt.Errorf("%w: give one of --identity, --attacker, --session, --campaign", errUsage)
	default:
		return ttprepo.Scope{}, fmt.Errorf("%w: give only one of --identity, --attacker, --session, --campaign", errUsage)
	}
}

// parseFlags parses args and refuses leftover arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func runTags(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tags", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var sf scopeFlags
	sf.register(fs)
	technique := fs.String("technique", "", "technique id, e.g. T1110 (required except with --attacker)")
	sub := fs.String("sub", "", "sub-technique id, e.g. T1110.003; without it, the tags with no sub-technique")
	limit := fs.Int("limit", ttprepo.DefaultTagPageSize, "tags per page (at most "+strconv.Itoa(ttprepo.MaxTagPageSize)+")")
	cursor := fs.String("cursor", "", "the cursor printed after the previous page")
	asJSON := fs.Bool("json", false, "print the page as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	scope, err := sf.scope(false)
	if err != nil {
		return err
	}
	if *technique == "" && scope.Kind != ttprepo.ScopeAttacker {
		return fmt.Errorf("%w: --technique is required with --%s", errUsage, scope.Kind)
	}
	if *technique == "" && *sub != "" {
		return fmt.Errorf("%w: --sub needs --technique", errUsage)
	}
	q := ttprepo.TagQuery{Scope: scope, TechniqueID: *technique, Cursor: *cursor, Limit: *limit}
	if *sub != "" {
		q.SubTechniqueID = sub
	}

	s, err := openExistingStore(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	page, err := s.ListTags(ctx, q)
	if err != nil {
		return err
	}
	// After the query, so that a bad --limit or --cursor is reported
	// whatever the id.
	if err := checkKnown(ctx, s, scope); err != nil {
		return err
	}

	if *asJSON {
		return printTagPageJSON(e.stdout, page)
	}
	rows := make([][]string, 0, len(page.Tags))
	for _, t := range page.Tags {
		rows = append(rows, []string{
			fmtTime(t.CreatedAt), t.UUID, t.Tactic, t.TechniqueID, fmtOpt(t.SubTechniqueID),
			strconv.FormatFloat(t.Confidence, 'g', -1, 64), t.RuleID, fmtOpt(t.DeckyID), string(t.Evidence),
		})
	}
	if err := printTable(e.stdout, []string{"CREATED_AT", "UUID", "TACTIC", "TECHNIQUE", "SUB", "CONF", "RULE", "DECKY", "EVIDENCE"}, rows); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(e.stdout, "next page: --cursor %s\n", page.Next)
	}
	return nil
}

// printTagPageJSON prints page as printJSON does, but with each tag's
// evidence exactly as stored: encoding/json would compact it, then indent
// it, and escape <, > and &, changing the bytes though not the meaning.
// Each evidence is encoded as a unique placeholder string and the stored
// bytes are put in its place.
func printTagPageJSON(w io.Writer, page ttprepo.TagPage) error {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	marked := page
	marked.Tags = slices.Clone(page.Tags)
	holders := make([][]byte, len(page.Tags))
	for i := range marked.Tags {
		holder := fmt.Sprintf("ttpctl-evidence-%x-%d", nonce, i)
		holders[i] = []byte(strconv.Quote(holder))
		marked.Tags[i].Evidence = json.RawMessage(holders[i])
	}
	var buf bytes.Buffer
	if err := printJSON(&buf, marked); err != nil {
		return err
	}
	// The placeholders come in tag order: one pass over the output.
	out, pos := buf.Bytes(), 0
	var spliced bytes.Buffer
	spliced.Grow(len(out))
	for i, h := range holders {
		at := bytes.Index(out[pos:], h)
		if at < 0 {
			return fmt.Errorf("tags --json: evidence of tag %d not found in the output", i)
		}
		spliced.Write(out[pos : pos+at])
		spliced.Write(page.Tags[i].Evidence)
		pos += at + len(h)
	}
	spliced.Write(out[pos:])
	_, err := w.Write(spliced.Bytes())
	return err
}
