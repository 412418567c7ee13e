package ttprepo

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidTag matches every [*TagError]: the tag was refused before
	// anything of the call was written.
	ErrInvalidTag = errors.New("invalid tag")

	// ErrUnknownAnchor matches a [*TagError] whose attacker or identity is
	// not stored.
	ErrUnknownAnchor = errors.New("unknown anchor")

	// ErrInvalidInput matches an [*InputError] for a campaign, identity or
	// attacker that cannot be stored.
	ErrInvalidInput = errors.New("invalid input")

	// ErrNotFound is returned when a tag asked for by id is not stored.
	ErrNotFound = errors.New("not found")

	// ErrUnsupportedDSN is returned by [Open] for a DSN it cannot route.
	ErrUnsupportedDSN = errors.New("unsupported dsn")
)

// TagError says which tag of a call was refused, and why. Index is the
// tag's position in the slice given to [Store.InsertTags].
type TagError struct {
	Index  int
	UUID   string
	Field  string
	Reason string
	// Err is ErrUnknownAnchor for a missing attacker or identity, nil for
	// a value that is wrong in itself.
	Err error
}

func (e *TagError) Error() string {
	return fmt.Sprintf("tag %d (uuid %q): %s: %s", e.Index, e.UUID, e.Field, e.Reason)
}

// Is reports a match with ErrInvalidTag always, and with Err.
func (e *TagError) Is(target error) bool {
	return target == ErrInvalidTag || (e.Err != nil && target == e.Err)
}

// InputError says which field of a campaign, identity or attacker is wrong.
type InputError struct {
	Kind   string // "campaign", "identity" or "attacker"
	UUID   string
	Field  string
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s %q: %s: %s", e.Kind, e.UUID, e.Field, e.Reason)
}

// Is reports a match with ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// FleetRecordError is how [Store.UpsertFleet] refuses a call: which
// record, by its position in the slice passed in, and why (an
// [*InputError], so errors.As and errors.Is(err, ErrInvalidInput) see
// through it).
type FleetRecordError struct {
	Index int
	Err   *InputError
}

func (e *FleetRecordError) Error() string { return fmt.Sprintf("fleet record %d: %v", e.Index, e.Err) }

// Unwrap returns the record's InputError.
func (e *FleetRecordError) Unwrap() error { return e.Err }
