package ttprepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// goose takes no lock of its own on SQLite or MySQL, so two processes
// migrating one database at once would both see a version as pending and
// both apply it; on MySQL, whose DDL is not transactional, that leaves a
// half-applied schema. goose's optional session locker does not close the
// gap either: it checks for pending migrations, creating its version table
// if missing, before it takes the lock, so a second migrator can find that
// table created but still empty and fail. lockMigrations is therefore
// taken around the whole of each migration call, outside goose.

// lockPoll is how long one attempt to take the migration lock waits before
// the context is checked again.
const lockPoll = time.Second

// lockMigrations blocks until no other migrator holds the database's
// migration lock, takes it, and returns the function that releases it.
func (s *Store) lockMigrations(ctx context.Context) (unlock func() error, err error) {
	if s.dialect == MySQL {
		return lockMySQLMigrations(ctx, s.db)
	}
	return lockSQLiteMigrations(ctx, s.db)
}

// mysqlLockName is a named server lock (GET_LOCK) derived from the
// database name, so that migrations of different databases on one server
// do not wait for each other; the SHA-1 keeps it within the 64 characters
// a lock name may have.
const mysqlLockName = "CONCAT('ttpstore_migrate:', SHA1(COALESCE(DATABASE(), '')))"

// lockMySQLMigrations holds the named lock on a connection of its own for
// as long as the migration runs. The server releases the lock when that
// session ends, so a migrator that dies never leaves the database locked.
// goose needs other connections meanwhile, so the pool must allow two.
func lockMySQLMigrations(ctx context.Context, db *sql.DB) (func() error, error) {
	if db.Stats().MaxOpenConnections == 1 {
		return nil, errors.New("take migration lock: the pool allows one connection; migrating needs two")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	for {
		var got sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+mysqlLockName+", ?)", int(lockPoll/time.Second)).Scan(&got)
		switch {
		case err != nil:
			conn.Close()
			return nil, fmt.Errorf("take migration lock: %w", err)
		case !got.Valid:
			conn.Close()
			return nil, errors.New("take migration lock: GET_LOCK failed")
		case got.Int64 == 1:
			return func() error {
				_, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK("+mysqlLockName+")")
				if err = errors.Join(err, conn.Close()); err != nil {
					return fmt.Errorf("release migration lock: %w", err)
				}
				return nil
			}, nil
		}
		if err := ctx.Err(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("take migration lock: %w", err)
		}
	}
}

// lockSQLiteMigrations holds a write transaction on a small lock database
// next to the store's file (PATH-migratelock). It cannot be a transaction
// on the store's own file, which goose must write meanwhile. SQLite's
// file locks are released by the operating system when a process dies,
// so, unlike a lock row, a crashed migrator leaves no stale lock behind.
// An in-memory database belongs to one connection and needs no lock.
//
// The lock orders migrations run through this package only: the goose
// CLI does not know about it.
func lockSQLiteMigrations(ctx context.Context, db *sql.DB) (func() error, error) {
	path, err := sqliteMainFile(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	if path == "" {
		return func() error { return nil }, nil
	}
	lockDB, err := sql.Open("sqlite", "file:"+uriPathEscaper.Replace(path+"-migratelock")+"?_pragma=busy_timeout("+fmt.Sprint(lockPoll.Milliseconds())+")")
	if err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	conn, err := lockDB.Conn(ctx)
	if err != nil {
		lockDB.Close()
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	for {
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil {
			return func() error {
				_, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
				if err = errors.Join(err, conn.Close(), lockDB.Close()); err != nil {
					return fmt.Errorf("release migration lock: %w", err)
				}
				return nil
			}, nil
		}
		if sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || ctx.Err() != nil {
			conn.Close()
			lockDB.Close()
			return nil, fmt.Errorf("take migration lock: %w", errors.Join(err, ctx.Err()))
		}
	}
}

// sqliteMainFile returns the file of the main database, or "" for an
// in-memory or temporary one.
func sqliteMainFile(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, rows.Close()
		}
	}
	return "", rows.Err()
}
