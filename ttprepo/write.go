package ttprepo

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// UpsertCampaign stores a campaign; storing it again changes nothing.
func (s *Store) UpsertCampaign(ctx context.Context, c Campaign) error {
	return s.upsertOne(ctx, FleetRecord{Campaign: &c})
}

// UpsertIdentity stores an identity or moves it to another campaign. The
// campaign must already be stored.
func (s *Store) UpsertIdentity(ctx context.Context, i Identity) error {
	return s.upsertOne(ctx, FleetRecord{Identity: &i})
}

// UpsertAttacker stores an attacker or updates its IP and identity:
// moving an attacker to another identity is an upsert, and the identity
// rollups follow it at once because they join through the attacker row.
func (s *Store) UpsertAttacker(ctx context.Context, a Attacker) error {
	return s.upsertOne(ctx, FleetRecord{Attacker: &a})
}

// FleetRecord is one campaign, identity or attacker for [Store.UpsertFleet]:
// exactly one of its fields is set.
type FleetRecord struct {
	Campaign *Campaign
	Identity *Identity
	Attacker *Attacker
}

// UpsertFleet upserts records in order, in one transaction: what
// UpsertCampaign, UpsertIdentity and UpsertAttacker do one record and one
// transaction at a time, for a batch. A record may point to one earlier in
// the same call. If any record is invalid or points to a parent that is
// not stored, it returns a [*FleetRecordError] holding the record's
// position in recs and its [*InputError] (errors.As finds either), and
// writes nothing of the call.
func (s *Store) UpsertFleet(ctx context.Context, recs []FleetRecord) error {
	refused := func(i int, err error) error {
		var ie *InputError
		if errors.As(err, &ie) {
			return &FleetRecordError{Index: i, Err: ie}
		}
		return err
	}
	for i, r := range recs {
		if err := validateFleetRecord(r); err != nil {
			return refused(i, err)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for i, r := range recs {
			if err := s.upsertRecord(ctx, tx, r); err != nil {
				return refused(i, err)
			}
		}
		return nil
	})
}

// upsertOne checks and writes one record on its own.
func (s *Store) upsertOne(ctx context.Context, r FleetRecord) error {
	if err := validateFleetRecord(r); err != nil {
		return err
	}
	return s.upsertRecord(ctx, nil, r)
}

func validateFleetRecord(r FleetRecord) error {
	n := 0
	for _, set := range []bool{r.Campaign != nil, r.Identity != nil, r.Attacker != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return &InputError{Kind: "fleet record", Field: "Campaign, Identity, Attacker",
			Reason: fmt.Sprintf("%d are set, want exactly 1", n)}
	case r.Campaign != nil:
		return validateAnchorRecord("campaign", r.Campaign.UUID, nil)
	case r.Identity != nil:
		return validateAnchorRecord("identity", r.Identity.UUID, map[string]*string{"campaign_id": r.Identity.CampaignID})
	default:
		ip := r.Attacker.IP
		return validateAnchorRecord("attacker", r.Attacker.UUID, map[string]*string{"ip": &ip, "identity_id": r.Attacker.IdentityID})
	}
}

// upsertRecord writes one checked record inside tx, or on its own when tx
// is nil. A parent that is not stored comes back as an [*InputError] on
// the field that names it.
func (s *Store) upsertRecord(ctx context.Context, tx *sql.Tx, r FleetRecord) error {
	var (
		err                       error
		kind, id, field, ofParent string
		parent                    *string
	)
	switch {
	case r.Campaign != nil:
		err = s.b.upsertCampaign(ctx, tx, *r.Campaign)
		kind, id = "campaign", r.Campaign.UUID
	case r.Identity != nil:
		err = s.b.upsertIdentity(ctx, tx, *r.Identity)
		kind, id, field, ofParent, parent = "identity", r.Identity.UUID, "campaign_id", "campaign", r.Identity.CampaignID
	default:
		err = s.b.upsertAttacker(ctx, tx, *r.Attacker)
		kind, id, field, ofParent, parent = "attacker", r.Attacker.UUID, "identity_id", "identity", r.Attacker.IdentityID
	}
	switch {
	case err == nil:
		return nil
	case parent != nil && s.b.isForeignKeyViolation(err):
		return &InputError{Kind: kind, UUID: id, Field: field, Reason: fmt.Sprintf("%s %q is not stored", ofParent, *parent)}
	default:
		return fmt.Errorf("upsert %s %q: %w", kind, id, err)
	}
}

// maxTxAttempts bounds how often a transaction that lost a conflict with
// a concurrent writer (a MySQL deadlock, a busy SQLite file) is run again,
// and maxTxBackoff how long it waits at most between two attempts. With
// the lock order below, eight writers sharing half their tags on MariaDB
// still deadlock now and then (secondary index gap locks), but none was
// seen to need more than four attempts; the bound leaves a wide margin.
const (
	maxTxAttempts = 16
	maxTxBackoff  = 500 * time.Millisecond
)

// InsertTags validates every tag, drops those whose confidence is below
// [ConfidenceFloor], and writes the rest in one transaction, skipping ids
// already stored. It returns how many rows were newly written.
//
// If any tag is invalid, or names an attacker or identity that is not
// stored, it returns a [*TagError] naming the tag and the field and writes
// nothing of the call. A tag whose CreatedAt is zero takes the time of the
// call. Any number of tags may be passed; they are written in bounded
// statements within the one transaction.
func (s *Store) InsertTags(ctx context.Context, tags []Tag) (int, error) {
	// Check every tag before touching the database, so that a bad tag late
	// in the slice costs nothing written.
	keep := make([]int, 0, len(tags))
	for i := range tags {
		if err := ValidateTag(i, &tags[i]); err != nil {
			return 0, err
		}
		if tags[i].Confidence >= ConfidenceFloor {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return 0, nil
	}
	// A tag id given twice in one call is written as its first copy, the
	// later ones being replays. Both write orders below sort, so the later
	// copies leave the batch before that: sorted first, a later copy would
	// be the one stored, or its unknown anchor would fail the call.
	keep = firstOfEachID(tags, keep)
	if s.dialect == SQLite {
		anchorOrder(tags, keep)
	} else {
		lockOrder(tags, keep)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)

	var (
		inserted int64
		fkFrom   = -1 // where in keep the statement that hit a missing anchor began
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, failedAt, err := s.b.insertTags(ctx, tx, tags, keep, now)
		inserted, fkFrom = n, -1
		if err != nil && s.b.isForeignKeyViolation(err) {
			fkFrom = failedAt
		}
		return err
	})

	// The culprit of a missing anchor is looked up only once the
	// transaction is over: an in-memory SQLite store has a single
	// connection, which the transaction would still hold.
	if err != nil && fkFrom >= 0 {
		return 0, s.missingAnchor(ctx, tags, keep[fkFrom:], err)
	}
	if err != nil {
		return 0, fmt.Errorf("insert tags: %w", err)
	}
	return int(inserted), nil
}

// inTx runs fn in a transaction, again from the start when it lost a
// conflict with a concurrent writer; fn must be safe to repeat, which
// idempotent tag inserts are.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = s.tryTx(ctx, fn)
		if err == nil || !s.b.isRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(txBackoff(attempt)):
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", maxTxAttempts, err)
}

// txBackoff is the wait before attempt+1: growing, capped, and random
// within its bound so that writers that collided do not collide again in
// step.
func txBackoff(attempt int) time.Duration {
	bound := min(time.Duration(attempt*attempt)*10*time.Millisecond, maxTxBackoff)
	return bound/2 + rand.N(bound/2+1)
}

// lockOrder sorts keep so that every call takes its row locks in one
// global order: by technique group first, since each insert also updates
// that group's row in ttp_technique_stats, then by id. Two MySQL
// transactions that write the same groups or the same ids then wait for
// each other instead of deadlocking, which they did, repeatedly, when each
// followed its caller's order. The order of writing changes nothing else:
// the rows and the counts are the same.
func lockOrder(tags []Tag, keep []int) {
	slices.SortStableFunc(keep, func(i, j int) int {
		a, b := &tags[i], &tags[j]
		return cmp.Or(
			cmp.Compare(a.TechniqueID, b.TechniqueID),
			cmp.Compare(deref(a.SubTechniqueID), deref(b.SubTechniqueID)),
			cmp.Compare(a.Tactic, b.Tactic),
			cmp.Compare(a.UUID, b.UUID),
		)
	})
}

// firstOfEachID returns keep without the positions whose tag id an
// earlier position in keep already has.
func firstOfEachID(tags []Tag, keep []int) []int {
	seen := make(map[string]struct{}, len(keep))
	out := keep[:0]
	for _, k := range keep {
		if _, dup := seen[tags[k].UUID]; dup {
			continue
		}
		seen[tags[k].UUID] = struct{}{}
		out = append(out, k)
	}
	return out
}

// anchorOrder sorts keep by attacker, then identity, then tag id: the
// order SQLite writes a batch in. SQLite has one writer at a time, so the
// lock order does not matter there; what does is that the largest index,
// ttp_tag_attacker, is keyed by a random attacker id, and rows written in
// its key order touch each of its pages once per batch instead of
// returning to pages the page cache has already let go.
func anchorOrder(tags []Tag, keep []int) {
	slices.SortStableFunc(keep, func(i, j int) int {
		a, b := &tags[i], &tags[j]
		return cmp.Or(
			cmp.Compare(deref(a.AttackerUUID), deref(b.AttackerUUID)),
			cmp.Compare(deref(a.IdentityUUID), deref(b.IdentityUUID)),
			cmp.Compare(a.UUID, b.UUID),
		)
	})
}

func (s *Store) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return withContextErr(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return withContextErr(ctx, fmt.Errorf("commit: %w", err))
	}
	return nil
}

// withContextErr makes err match ctx's error when ctx ended: once it does,
// database/sql rolls the transaction back and closes its statements, and
// the next call fails with "statement is closed" or "transaction has
// already been committed or rolled back", which says nothing of the
// cancellation a caller checks for with errors.Is.
func withContextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// missingAnchor finds, among the tags from the failed statement onwards,
// the first whose attacker or identity is not stored, and names it. The
// database reports a foreign key failure without saying which row or
// column caused it; this slow path runs only after such a failure.
func (s *Store) missingAnchor(ctx context.Context, tags []Tag, keep []int, cause error) error {
	// keep is in lock order; name the first culprit in the caller's order.
	keep = slices.Sorted(slices.Values(keep))
	known := map[string]bool{}
	check := func(kind, id string) (bool, error) {
		key := kind + "\x00" + id
		if ok, seen := known[key]; seen {
			return ok, nil
		}
		var ok bool
		var err error
		if kind == "attacker" {
			ok, err = s.b.attackerExists(ctx, id)
		} else {
			ok, err = s.b.identityExists(ctx, id)
		}
		known[key] = ok
		return ok, err
	}
	// A tag the database skipped as a duplicate never had its anchors
	// checked, so it cannot be the culprit. keep holds each id once
	// (firstOfEachID), so a duplicate here is an id already stored.
	skipped := func(t *Tag) (bool, error) {
		_, err := s.b.getTag(ctx, t.UUID)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, sql.ErrNoRows):
			return false, nil
		default:
			return false, err
		}
	}
	for _, k := range keep {
		t := &tags[k]
		if t.AttackerUUID == nil && t.IdentityUUID == nil {
			continue
		}
		dup, err := skipped(t)
		if err != nil {
			return errors.Join(fmt.Errorf("insert tags: %w", cause), err)
		}
		if dup {
			continue
		}
		if t.AttackerUUID != nil {
			ok, err := check("attacker", *t.AttackerUUID)
			if err != nil {
				return errors.Join(fmt.Errorf("insert tags: %w", cause), err)
			}
			if !ok {
				return &TagError{Index: k, UUID: t.UUID, Field: "attacker_uuid", Reason: fmt.Sprintf("attacker %q is not stored", *t.AttackerUUID), Err: ErrUnknownAnchor}
			}
		}
		if t.IdentityUUID != nil {
			ok, err := check("identity", *t.IdentityUUID)
			if err != nil {
				return errors.Join(fmt.Errorf("insert tags: %w", cause), err)
			}
			if !ok {
				return &TagError{Index: k, UUID: t.UUID, Field: "identity_uuid", Reason: fmt.Sprintf("identity %q is not stored", *t.IdentityUUID), Err: ErrUnknownAnchor}
			}
		}
	}
	// Every anchor exists now: a concurrent writer deleted and re-created
	// one, or the failure was not ours to explain.
	return fmt.Errorf("insert tags: %w", cause)
}

// CountTags returns how many tags are stored.
func (s *Store) CountTags(ctx context.Context) (int64, error) {
	n, err := s.b.countTags(ctx)
	if err != nil {
		return 0, fmt.Errorf("count tags: %w", err)
	}
	return n, nil
}
