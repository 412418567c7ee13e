package ttprepo

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache runs generated queries inside one transaction on statements
// prepared once each. sqlc's database/sql code calls ExecContext with the
// query text every time; without this, the driver would parse and plan
// the same INSERT for every row of a large batch.
type stmtCache struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newStmtCache(tx *sql.Tx) *stmtCache {
	return &stmtCache{tx: tx, stmts: map[string]*sql.Stmt{}}
}

func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (c *stmtCache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.stmt(ctx, query)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...interface{}) *sql.Row {
	s, err := c.stmt(ctx, query)
	if err != nil {
		// database/sql offers no way to build a *sql.Row holding an
		// error, so fall back to the unprepared path, which reports it.
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (c *stmtCache) close() {
	for _, s := range c.stmts {
		s.Close()
	}
}

// preparedDB runs the generated queries on the pool through statements
// prepared once per query text and kept until [Store.Close]. sqlc's code
// passes the query text on every call, and neither driver keeps prepared
// statements of its own: without this, SQLite parsed and planned a rollup
// on every call, and MySQL did so on the server. database/sql prepares a
// statement again on each pooled connection it runs on, so one entry
// serves every connection. The query texts are the generated constants,
// so the map stays as small as the db/ packages.
type preparedDB struct {
	db *sql.DB

	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newPreparedDB(db *sql.DB) *preparedDB {
	return &preparedDB{db: db, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the statement for query, preparing it on first use. It
// returns nil, nil once close has run: the caller then runs query
// unprepared, as the pool would without this type.
func (p *preparedDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.RLock()
	s, ok := p.stmts[query]
	closed := p.closed
	p.mu.RUnlock()
	if ok || closed {
		return s, nil
	}
	// Prepared outside the lock: preparing may wait for a pooled
	// connection, and other queries should not wait behind it.
	s, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		s.Close()
		return nil, nil
	}
	if first, ok := p.stmts[query]; ok {
		s.Close() // another call prepared it meanwhile
		return first, nil
	}
	p.stmts[query] = s
	return s, nil
}

func (p *preparedDB) ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return p.db.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

func (p *preparedDB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p *preparedDB) QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return p.db.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

func (p *preparedDB) QueryRowContext(ctx context.Context, query string, args ...interface{}) *sql.Row {
	s, err := p.stmt(ctx, query)
	if err != nil || s == nil {
		// As in stmtCache: the unprepared path reports the error.
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// close closes every statement; later calls run unprepared.
func (p *preparedDB) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, s := range p.stmts {
		errs = append(errs, s.Close())
	}
	clear(p.stmts)
	p.closed = true
	return errors.Join(errs...)
}
