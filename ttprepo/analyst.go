package ttprepo

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ScopeKind names what a [Scope] is anchored on.
type ScopeKind string

const (
	// ScopeFleet is every tag; its Scope has no ID.
	ScopeFleet    ScopeKind = ""
	ScopeIdentity ScopeKind = "identity"
	ScopeAttacker ScopeKind = "attacker"
	ScopeSession  ScopeKind = "session"
	ScopeCampaign ScopeKind = "campaign"
)

// Scope is a set of tags an analyst asks about, with the same rules as
// the rollups: an identity's scope holds its own tags and its attackers'
// tags (a tag matching both ways once), a campaign's scope the union of
// its identities' scopes (each tag once). The zero Scope is the whole
// fleet.
type Scope struct {
	Kind ScopeKind `json:"kind"`
	ID   string    `json:"id"`
}

func (sc Scope) String() string {
	if sc.Kind == ScopeFleet {
		return "fleet"
	}
	return string(sc.Kind) + " " + sc.ID
}

func (sc Scope) check(fleetAllowed bool) error {
	switch sc.Kind {
	case ScopeIdentity, ScopeAttacker, ScopeSession, ScopeCampaign:
		if sc.ID == "" {
			return fmt.Errorf("%w: scope %s: empty id", ErrInvalidInput, sc.Kind)
		}
		return nil
	case ScopeFleet:
		if fleetAllowed && sc.ID == "" {
			return nil
		}
	}
	return fmt.Errorf("%w: scope %q (want identity, attacker, session or campaign)", ErrInvalidInput, sc.Kind)
}

// Exists reports whether the identity, attacker or campaign of sc is
// stored, which tells an unknown id from a scope with no tags: both give
// an empty rollup. A session is not stored apart from its tags, so a
// session scope is refused with [ErrInvalidInput].
func (s *Store) Exists(ctx context.Context, sc Scope) (bool, error) {
	if err := sc.check(false); err != nil {
		return false, err
	}
	switch sc.Kind {
	case ScopeIdentity:
		return s.b.identityExists(ctx, sc.ID)
	case ScopeAttacker:
		return s.b.attackerExists(ctx, sc.ID)
	case ScopeCampaign:
		return s.b.campaignExists(ctx, sc.ID)
	}
	return false, fmt.Errorf("%w: a session is known only by its tags", ErrInvalidInput)
}

// Page sizes for [Store.ListTags].
const (
	DefaultTagPageSize = 100
	MaxTagPageSize     = 1000
)

// ErrInvalidCursor is returned for a page cursor that [Store.ListTags]
// did not produce.
var ErrInvalidCursor = errors.New("invalid cursor")

// TagQuery asks for the raw tags behind one rollup row.
type TagQuery struct {
	// Scope is an identity, attacker, session or campaign.
	Scope Scope
	// TechniqueID is the rollup row's technique. It may be empty only for
	// an attacker scope, to list every tag of the attacker.
	TechniqueID string
	// SubTechniqueID is the rollup row's sub-technique. nil selects the
	// tags with no sub-technique, exactly those the rollup row with a null
	// sub-technique counts; it does not mean "any sub-technique". Ask once
	// per rollup row to see a technique's sub-techniques.
	SubTechniqueID *string
	// Cursor is "" for the first page, then the Next of the page before.
	Cursor string
	// Limit is the page size: 0 for DefaultTagPageSize, at most
	// MaxTagPageSize.
	Limit int
}

// TagPage is one page of tags, newest first (created_at, then uuid,
// descending). Next is the cursor of the following page, "" after the
// last one.
type TagPage struct {
	Tags []Tag  `json:"tags"`
	Next string `json:"next"`
}

// ListTags returns one page of the tags behind a rollup row, newest
// first, evidence byte for byte as stored. Pages are cut by keyset on
// (created_at, uuid), never by offset: tags that arrive between two calls
// are newer than any cursor already handed out, so they neither repeat
// nor push a tag off the following pages.
func (s *Store) ListTags(ctx context.Context, q TagQuery) (TagPage, error) {
	pq, err := checkTagQuery(q)
	if err != nil {
		return TagPage{}, err
	}
	return s.tagPage(ctx, pq)
}

// ListAttackerTags returns one page of every tag of an attacker, newest
// first, paginated like [Store.ListTags]. Identity-level tags (no
// attacker) never appear.
func (s *Store) ListAttackerTags(ctx context.Context, attackerID, cursor string, limit int) (TagPage, error) {
	return s.ListTags(ctx, TagQuery{Scope: Scope{Kind: ScopeAttacker, ID: attackerID}, Cursor: cursor, Limit: limit})
}

func (s *Store) tagPage(ctx context.Context, pq tagPageQuery) (TagPage, error) {
	// One tag more than asked tells whether a next page exists, so the
	// last page never hands out a cursor to an empty one.
	want := pq.limit
	pq.limit++
	tags, err := s.b.tagPage(ctx, s.stmts, pq)
	if err != nil {
		return TagPage{}, fmt.Errorf("tags of %s: %w", pq.scope, err)
	}
	page := TagPage{Tags: tags}
	if len(tags) > want {
		page.Tags = tags[:want]
		last := page.Tags[want-1]
		page.Next = encodeCursor(last.CreatedAt, last.UUID)
	}
	return page, nil
}

// ExplainTags returns the database's plan for the statement that
// [Store.ListTags] runs for q, one line per plan row: SQLite's EXPLAIN
// QUERY PLAN details, or MySQL's EXPLAIN rows as "column=value" pairs.
// It lets an operator check that a drill-down seeks an index.
func (s *Store) ExplainTags(ctx context.Context, q TagQuery) ([]string, error) {
	pq, err := checkTagQuery(q)
	if err != nil {
		return nil, err
	}
	pq.limit++
	ex := &explainer{db: s.db, prefix: s.b.explainPrefix()}
	_, err = s.b.tagPage(ctx, ex, pq)
	if !errors.Is(err, errExplained) {
		if err == nil {
			err = errors.New("no query was run")
		}
		return nil, fmt.Errorf("explain tags of %s: %w", pq.scope, err)
	}
	return ex.plan, nil
}

func checkTagQuery(q TagQuery) (tagPageQuery, error) {
	if err := q.Scope.check(false); err != nil {
		return tagPageQuery{}, fmt.Errorf("tag query: %w", err)
	}
	if q.TechniqueID == "" && q.Scope.Kind != ScopeAttacker {
		return tagPageQuery{}, fmt.Errorf("tag query: %w: technique_id is required for a %s scope", ErrInvalidInput, q.Scope.Kind)
	}
	if q.TechniqueID == "" && q.SubTechniqueID != nil {
		return tagPageQuery{}, fmt.Errorf("tag query: %w: sub_technique_id %q without technique_id", ErrInvalidInput, *q.SubTechniqueID)
	}
	// Sub-techniques are stored whole ("T1110.003"); a bare suffix or one
	// of another technique would silently match nothing.
	if q.SubTechniqueID != nil && !strings.HasPrefix(*q.SubTechniqueID, q.TechniqueID+".") {
		return tagPageQuery{}, fmt.Errorf("tag query: %w: sub_technique_id %q is not a sub-technique of %s (want %s.NNN)",
			ErrInvalidInput, *q.SubTechniqueID, q.TechniqueID, q.TechniqueID)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultTagPageSize
	case limit < 0 || limit > MaxTagPageSize:
		return tagPageQuery{}, fmt.Errorf("tag query: %w: limit %d is outside 1..%d", ErrInvalidInput, limit, MaxTagPageSize)
	}
	pq := tagPageQuery{scope: q.Scope, technique: q.TechniqueID, sub: q.SubTechniqueID, limit: limit}
	if q.Cursor == "" {
		pq.beforeAt, pq.beforeUUID = cursorStart, cursorStartUUID
		return pq, nil
	}
	at, id, err := decodeCursor(q.Cursor)
	if err != nil {
		return tagPageQuery{}, fmt.Errorf("tag query: %w", err)
	}
	pq.beforeAt, pq.beforeUUID = at, id
	return pq, nil
}

// cursorStart and cursorStartUUID make the first page's cursor: the
// latest instant a tag may carry, and an id that sorts after every
// storable id (one character longer than the longest, each the greatest
// code point), so that even a tag at that very instant comes before the
// cursor in (created_at DESC, uuid DESC) order.
var (
	cursorStart     = maxTime
	cursorStartUUID = strings.Repeat("\U0010FFFF", MaxIDLen+1)
)

// A cursor is the (created_at, uuid) of the last tag of a page, in
// base64url so that callers treat it as opaque; the version prefix lets
// the layout change without misreading old cursors.
const cursorVersion = "c1"

func encodeCursor(at time.Time, id string) string {
	raw := cursorVersion + "|" + at.UTC().Format(sqliteTimeLayout) + "|" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: %q is not base64url", ErrInvalidCursor, c)
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" {
		return time.Time{}, "", fmt.Errorf("%w: %q", ErrInvalidCursor, c)
	}
	at, err := time.Parse(sqliteTimeLayout, parts[1])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: %q: time: %v", ErrInvalidCursor, c, err)
	}
	return at, parts[2], nil
}

// errExplained stops a generated query after its plan was read.
var errExplained = errors.New("plan read")

// explainer runs a generated query's text behind an EXPLAIN prefix,
// with the very arguments the query would get, and keeps the plan. It
// then fails the query: the plan's rows do not fit the query's scan.
type explainer struct {
	db     *sql.DB
	prefix string
	plan   []string
}

func (e *explainer) ExecContext(ctx context.Context, q string, args ...interface{}) (sql.Result, error) {
	return nil, errors.New("explain: not a query")
}

func (e *explainer) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return nil, errors.New("explain: not a query")
}

// QueryRowContext is never called by the page queries, which are all
// :many; it answers with no row, which the caller reads as sql.ErrNoRows.
func (e *explainer) QueryRowContext(ctx context.Context, q string, args ...interface{}) *sql.Row {
	return e.db.QueryRowContext(ctx, "SELECT 1 FROM (SELECT 1 AS x) AS none WHERE none.x = 0")
}

func (e *explainer) QueryContext(ctx context.Context, q string, args ...interface{}) (*sql.Rows, error) {
	rows, err := e.db.QueryContext(ctx, e.prefix+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		e.plan = append(e.plan, planLine(cols, vals))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return nil, errExplained
}

// planLine renders one plan row: SQLite's detail column alone, else
// every column as name=value (NULL for SQL NULL).
func planLine(cols []string, vals []sql.NullString) string {
	var parts []string
	for i, c := range cols {
		if c == "detail" {
			return vals[i].String
		}
		v := "NULL"
		if vals[i].Valid {
			v = vals[i].String
		}
		parts = append(parts, c+"="+v)
	}
	return strings.Join(parts, " ")
}
