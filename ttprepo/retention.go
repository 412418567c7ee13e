package ttprepo

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DefaultPurgeBatch is a batch size for [Store.PurgeTagsBefore] that keeps
// each delete transaction short on both backends.
const DefaultPurgeBatch = 1000

// CountTagsBefore counts the tags [Store.PurgeTagsBefore] would delete
// now: those created strictly before cutoff, and of the given ATT&CK
// release unless release is nil. It is the purge's dry run.
func (s *Store) CountTagsBefore(ctx context.Context, cutoff time.Time, release *string) (int64, error) {
	c, err := purgeCutoff(cutoff)
	if err != nil {
		return 0, err
	}
	n, err := s.b.countTagsBefore(ctx, c, release)
	if err != nil {
		return 0, fmt.Errorf("count tags before %s: %w", c.Format(time.RFC3339Nano), err)
	}
	return n, nil
}

// PurgeTagsBefore deletes the tags created strictly before cutoff, of the
// given ATT&CK release only unless release is nil, oldest first, in
// batches of at most batch tags. Each batch is its own short transaction,
// so a large purge never holds locks for long and a concurrent writer
// waits at most one batch; the fleet technique counts that
// [Store.ListDistinctTechniques] reads stay exact, as the database's
// triggers update them row by row. It returns how many tags it deleted,
// also when it stops on an error or a cancelled ctx part way.
func (s *Store) PurgeTagsBefore(ctx context.Context, cutoff time.Time, release *string, batch int) (int64, error) {
	c, err := purgeCutoff(cutoff)
	if err != nil {
		return 0, err
	}
	if batch <= 0 {
		return 0, fmt.Errorf("purge: %w: batch %d must be positive", ErrInvalidInput, batch)
	}

	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			n, err = s.b.deleteTagsBefore(ctx, tx, c, release, batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge tags before %s: %w", c.Format(time.RFC3339Nano), err)
		}
		total += n
		// A short batch means nothing older was left when it ran.
		if n < int64(batch) {
			return total, nil
		}
	}
}

// purgeCutoff checks a cutoff and rounds it up to the microsecond. Tags
// are stored to the microsecond, so a tag is before the cutoff exactly
// when it is before the cutoff rounded up: nothing is kept or deleted
// because the databases cannot hold the nanoseconds.
func purgeCutoff(cutoff time.Time) (time.Time, error) {
	if cutoff.IsZero() {
		return time.Time{}, fmt.Errorf("purge: %w: zero cutoff", ErrInvalidInput)
	}
	c := cutoff.UTC()
	if t := c.Truncate(time.Microsecond); !t.Equal(c) {
		c = t.Add(time.Microsecond)
	}
	if c.Year() < 1 || c.Year() > 9999 {
		return time.Time{}, fmt.Errorf("purge: %w: cutoff %s, rounded up to the microsecond, is outside years 1 to 9999", ErrInvalidInput, cutoff.Format(time.RFC3339Nano))
	}
	return c, nil
}
