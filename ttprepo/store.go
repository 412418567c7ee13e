package ttprepo

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	"github.com/ttpstore/ttpstore/migrations"
)

// Dialect names a supported database.
type Dialect string

const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// Store is a tag store on one database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	b       backend
	stmts   *preparedDB // what b's pooled queries run on
	owned   bool        // Close closes db only when Open created it
	// release closes stmts once the store is garbage, for a store from
	// OpenDB that its caller drops without Close.
	release runtime.Cleanup
}

// Open opens a store from a DSN:
//
//   - "sqlite:PATH" or a bare PATH: an embedded SQLite file (created when
//     missing), in WAL mode with foreign keys on for every pooled
//     connection; PATH is a file name as it stands ("?", "#" and "%" are
//     part of it), and a bare PATH may not start with "mysql:" or "mysql//"
//     in any case (see [SQLitePath]);
//   - "mysql://" followed by a go-sql-driver DSN, such as
//     "mysql://root@tcp(127.0.0.1:3306)/ttp": MySQL or MariaDB, with the
//     session forced to strict SQL mode, utf8mb4 and UTC.
//
// Open checks that the database answers; it does not migrate it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		db      *sql.DB
		dialect Dialect
		err     error
	)
	path, isSQLite := SQLitePath(dsn)
	switch {
	case isSQLite:
		dialect = SQLite
		db, err = openSQLite(path)
	case strings.HasPrefix(dsn, "mysql://"):
		dialect = MySQL
		db, err = openMySQL(strings.TrimPrefix(dsn, "mysql://"))
	case mistypedMySQL(dsn):
		return nil, fmt.Errorf("%w: %q (a MySQL DSN starts with mysql://)", ErrUnsupportedDSN, dsn)
	default:
		return nil, fmt.Errorf("%w: %q (want sqlite:PATH, a path, or mysql://DSN)", ErrUnsupportedDSN, dsn)
	}
	if err != nil {
		return nil, err
	}
	s, err := OpenDB(db, dialect)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	if err := firstPing(ctx, db, dialect); err != nil {
		return nil, fmt.Errorf("ping %s: %w", dialect, err)
	}
	return s, nil
}

// sqliteOpenWait bounds how long Open waits for a locked SQLite file, as
// long as the busy timeout SQLiteDSN sets.
var sqliteOpenWait = 30 * time.Second

// firstPing opens a first connection, and closes db when it cannot.
//
// A SQLite file that another process is creating or switching to WAL at
// the same moment can refuse the connection with SQLITE_BUSY before the
// busy timeout applies (two connections that both read the header and
// both want to rewrite it: SQLite fails one at once rather than wait on a
// deadlock), so a busy ping is retried. A ping can also wait in SQLite's
// busy handler for the whole busy timeout, which does not watch ctx, so
// the pings run on a goroutine of their own and firstPing returns when
// ctx ends, or after sqliteOpenWait in all; a ping left behind ends on its
// own, and db is closed after it.
func firstPing(ctx context.Context, db *sql.DB, dialect Dialect) error {
	pingCtx, cancel := ctx, context.CancelFunc(func() {})
	if dialect == SQLite {
		pingCtx, cancel = context.WithTimeout(ctx, sqliteOpenWait)
	}
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
			err := db.PingContext(pingCtx)
			if err == nil || dialect != SQLite || !isSQLiteBusy(err) {
				done <- err
				return
			}
			select {
			case <-pingCtx.Done():
				done <- err
				return
			case <-time.After(wait):
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			db.Close()
		}
		return err
	case <-pingCtx.Done():
		go func() {
			<-done
			db.Close()
		}()
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("the database stayed locked for %s", sqliteOpenWait)
	}
}

// OpenDB wraps a database the caller opened. For SQLite, open it with
// [SQLiteDSN] so that every pooled connection has foreign keys on and a
// busy timeout; for MySQL, with [MySQLConnector] so that every session is
// strict, utf8mb4 and UTC. The caller keeps ownership: [Store.Close]
// releases the statements the store prepared on db but does not close db.
func OpenDB(db *sql.DB, dialect Dialect) (*Store, error) {
	stmts := newPreparedDB(db)
	var b backend
	switch dialect {
	case SQLite:
		b = newSQLiteBackend(stmts)
	case MySQL:
		b = newMySQLBackend(stmts)
	default:
		return nil, fmt.Errorf("%w: dialect %q", ErrUnsupportedDSN, dialect)
	}
	s := &Store{db: db, dialect: dialect, b: b, stmts: stmts}
	// The close runs on a goroutine of its own: closing a statement waits
	// for any query running on its connection, and the runtime runs every
	// cleanup of the program on one goroutine.
	s.release = runtime.AddCleanup(s, func(p *preparedDB) { go p.close() }, stmts)
	return s, nil
}

// Close releases the statements the store prepared, and closes the
// database if [Open] opened it. A store from [OpenDB] still works after
// Close, on unprepared statements, for as long as its database is open.
// Calls running while Close runs complete normally. A store from OpenDB
// that is dropped without Close releases its statements once it is
// garbage collected; Close releases them at once.
func (s *Store) Close() error {
	s.release.Stop()
	err := s.stmts.close()
	if s.owned {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

// DB returns the underlying database, for callers that need raw access.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect reports which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// SQLitePath returns the file path of a DSN that [Open] reads as SQLite,
// and false for any other DSN. A DSN starting with "mysql:" or "mysql//"
// in any case is never a path: it is most likely "mysql://" with the
// slashes or the colon left out, and opening it as a file would only fail
// later, and obscurely; a file of that name stays reachable as
// sqlite:mysql... or ./mysql...
func SQLitePath(dsn string) (string, bool) {
	if mistypedMySQL(dsn) || strings.Contains(dsn, "://") {
		return "", false
	}
	return strings.TrimPrefix(dsn, "sqlite:"), true
}

// mistypedMySQL reports a DSN that starts like mysql:// but is not it.
func mistypedMySQL(dsn string) bool {
	l := strings.ToLower(dsn)
	return !strings.HasPrefix(dsn, "mysql://") && (strings.HasPrefix(l, "mysql:") || strings.HasPrefix(l, "mysql//"))
}

// SQLiteDSN returns the modernc.org/sqlite DSN Open uses for a file:
// pragmas given in the DSN are applied by the driver to every new
// connection, which is the only way foreign keys stay on across a pool
// (SQLite does not check them by default, and the setting is per
// connection). Writers take the lock at BEGIN (_txlock=immediate) so that
// two writers wait on the busy timeout instead of failing with
// "database is locked" when one upgrades a read lock.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Every insert that fires the statistics trigger opens a statement
	// journal; in a temporary file that halves the insert rate, in memory
	// it costs a few pages per statement.
	q.Add("_pragma", "temp_store(MEMORY)")
	// The default 2 MiB page cache holds little of the uuid key and the
	// scope indexes once the table has a few hundred thousand tags, so
	// inserts re-read index pages from the OS. 16 MiB per connection keeps
	// their hot pages; a larger cache was no faster on a 100,000-line
	// ingest and pushed the process past 150 MB resident (the cache fills
	// up to its limit, per connection).
	q.Add("_pragma", "cache_size(-16384)")
	q.Set("_txlock", "immediate")
	return "file:" + uriPathEscaper.Replace(path) + "?" + q.Encode()
}

// uriPathEscaper escapes the characters that end or alter the path of a
// SQLite "file:" URI, so that a file named "h#1.db" or "a?b.db" is that
// file and not "h" or "a" with a query. SQLite decodes %HH in the path.
var uriPathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty sqlite path", ErrUnsupportedDSN)
	}
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if path == ":memory:" {
		// Each connection would get its own empty in-memory database.
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// MySQLConnector returns a connector for a go-sql-driver DSN with the
// session settings the store relies on, whatever the server defaults:
// strict SQL mode (a value too long or a missing parent is an error, never
// a warning), utf8mb4, the UTC time zone, and times parsed as UTC.
func MySQLConnector(dsn string) (driver.Connector, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse mysql dsn: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// Charset replaces any charset the DSN names (a "charset=utf8" would
	// otherwise send SET NAMES utf8 and lose 4-byte characters).
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_general_ci")); err != nil {
		return nil, fmt.Errorf("mysql charset: %w", err)
	}
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
	cfg.Params["time_zone"] = "'+00:00'"
	return mysql.NewConnector(cfg)
}

func openMySQL(dsn string) (*sql.DB, error) {
	c, err := MySQLConnector(dsn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetMaxIdleConns(8)
	return db, nil
}

// Migrate applies every embedded migration not yet applied and returns
// the schema version reached. Concurrent calls on one database, from this
// process or others, run one after the other: the later ones find nothing
// left to apply. On MySQL the pool must allow two connections, one of
// which holds the lock.
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	var v int64
	err := s.withMigrations(ctx, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		var err error
		v, err = p.GetDBVersion(ctx)
		return err
	})
	return v, err
}

// MigrateDown rolls back the most recent migration and returns the
// version left; at version 0 it does nothing.
func (s *Store) MigrateDown(ctx context.Context) (int64, error) {
	var v int64
	err := s.withMigrations(ctx, func(p *goose.Provider) error {
		if _, err := p.Down(ctx); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return fmt.Errorf("migrate down: %w", err)
		}
		var err error
		v, err = p.GetDBVersion(ctx)
		return err
	})
	return v, err
}

// MigrationStatus lists each embedded migration and whether it is applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]*goose.MigrationStatus, error) {
	var st []*goose.MigrationStatus
	err := s.withMigrations(ctx, func(p *goose.Provider) error {
		var err error
		st, err = p.Status(ctx)
		return err
	})
	return st, err
}

// withMigrations runs fn with a goose provider for the store's dialect
// while holding the database's migration lock (see lockMigrations).
func (s *Store) withMigrations(ctx context.Context, fn func(*goose.Provider) error) (err error) {
	dir, gd := "sqlite", goose.DialectSQLite3
	if s.dialect == MySQL {
		dir, gd = "mysql", goose.DialectMySQL
	}
	fsys, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", dir, err)
	}
	p, err := goose.NewProvider(gd, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migration provider: %w", err)
	}

	unlock, err := s.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	return fn(p)
}
