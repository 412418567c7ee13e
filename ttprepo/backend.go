package ttprepo

import (
	"context"
	"database/sql"
	"time"
)

// backend is what each dialect provides: the generated queries of its
// db/ package wrapped into domain types, plus the few statements sqlc
// cannot express. The Store above it validates, applies the floor, runs
// transactions and retries, so both backends stay thin.
type backend interface {
	analystBackend

	// The upserts run inside tx, or on their own when tx is nil.
	upsertCampaign(ctx context.Context, tx *sql.Tx, c Campaign) error
	upsertIdentity(ctx context.Context, tx *sql.Tx, i Identity) error
	upsertAttacker(ctx context.Context, tx *sql.Tx, a Attacker) error

	// insertTags writes tags[k] for every k in keep inside tx, taking now
	// for a zero CreatedAt. It returns how many rows were newly written;
	// on failure, also the position in keep of the first tag of the
	// statement that failed.
	insertTags(ctx context.Context, tx *sql.Tx, tags []Tag, keep []int, now time.Time) (int64, int, error)

	attackerExists(ctx context.Context, id string) (bool, error)
	identityExists(ctx context.Context, id string) (bool, error)
	campaignExists(ctx context.Context, id string) (bool, error)
	countTags(ctx context.Context) (int64, error)
	// getTag returns sql.ErrNoRows for an id not stored.
	getTag(ctx context.Context, uuid string) (Tag, error)

	// isForeignKeyViolation reports a missing parent row.
	isForeignKeyViolation(err error) bool
	// isRetryable reports a conflict between concurrent transactions that
	// running the whole transaction again resolves.
	isRetryable(err error) bool

	techniquesByIdentity(ctx context.Context, identityID string) ([]TechniqueRollup, error)
	techniquesByAttacker(ctx context.Context, attackerID string) ([]TechniqueRollup, error)
	techniquesBySession(ctx context.Context, sessionID string) ([]TechniqueRollup, error)
	techniquesByCampaign(ctx context.Context, campaignID string) ([]CampaignTechnique, error)
	distinctTechniques(ctx context.Context) ([]FleetTechnique, error)
	deckyPhases(ctx context.Context, identityID string) ([]PhaseObservation, error)
}

// nullString maps an optional string to its SQL form.
func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// optString maps SQL NULL back to nil.
func optString(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	s := n.String
	return &s
}

// optNonEmpty maps "" (the stats table's "none") to nil.
func optNonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// tagTime is the instant stored for t: its own, or now when zero.
func tagTime(t *Tag, now time.Time) time.Time {
	if t.CreatedAt.IsZero() {
		return now
	}
	return t.CreatedAt.UTC()
}
