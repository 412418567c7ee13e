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
//
// A statement is closed only once no call is starting on it: close may
// run while other goroutines are in the middle of a call. A call that
// finds the cache closed, or cannot prepare (a server at its limit of
// prepared statements, say), runs its query unprepared, as the pool
// would without this type.
type preparedDB struct {
	db *sql.DB

	mu     sync.Mutex
	stmts  map[string]*preparedStmt
	closed bool
}

// preparedStmt is a cached statement and the number of calls starting on
// it; after close, the last of them closes it.
type preparedStmt struct {
	s     *sql.Stmt
	users int
}

func newPreparedDB(db *sql.DB) *preparedDB {
	return &preparedDB{db: db, stmts: map[string]*preparedStmt{}}
}

// acquire returns the statement for query, preparing it on first use, and
// counts the caller as one of its users until release. It returns nil
// when the query is to run unprepared.
func (p *preparedDB) acquire(ctx context.Context, query string) *preparedStmt {
	p.mu.Lock()
	if e, ok := p.stmts[query]; ok || p.closed {
		if ok {
			e.users++
		}
		p.mu.Unlock()
		return e
	}
	p.mu.Unlock()

	// Prepared outside the lock: preparing may wait for a pooled
	// connection, and other queries should not wait behind it.
	s, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		s.Close()
		return nil
	}
	e, ok := p.stmts[query]
	if ok {
		s.Close() // another call prepared it meanwhile
	} else {
		e = &preparedStmt{s: s}
		p.stmts[query] = e
	}
	e.users++
	return e
}

// release ends a call that acquire counted. Once database/sql has
// started a query, the statement may be closed under it: the rows keep
// their connection's statement until they are closed.
func (p *preparedDB) release(e *preparedStmt) {
	p.mu.Lock()
	e.users--
	last := p.closed && e.users == 0
	p.mu.Unlock()
	if last {
		e.s.Close()
	}
}

func (p *preparedDB) ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error) {
	e := p.acquire(ctx, query)
	if e == nil {
		return p.db.ExecContext(ctx, query, args...)
	}
	defer p.release(e)
	return e.s.ExecContext(ctx, args...)
}

func (p *preparedDB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p *preparedDB) QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error) {
	e := p.acquire(ctx, query)
	if e == nil {
		return p.db.QueryContext(ctx, query, args...)
	}
	defer p.release(e)
	return e.s.QueryContext(ctx, args...)
}

func (p *preparedDB) QueryRowContext(ctx context.Context, query string, args ...interface{}) *sql.Row {
	e := p.acquire(ctx, query)
	if e == nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	defer p.release(e)
	return e.s.QueryRowContext(ctx, args...)
}

// close closes every statement no call is starting on, and leaves the
// others to the last of their calls; later calls run unprepared. The
// statements are closed outside the lock: closing one waits for any query
// running on its connection, and calls meanwhile should not wait too.
func (p *preparedDB) close() error {
	p.mu.Lock()
	var idle []*sql.Stmt
	for _, e := range p.stmts {
		if e.users == 0 {
			idle = append(idle, e.s)
		}
	}
	clear(p.stmts)
	p.closed = true
	p.mu.Unlock()

	var errs []error
	for _, s := range idle {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
