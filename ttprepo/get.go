package ttprepo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GetTag returns the stored tag with the given id, every field as it was
// written: evidence byte for byte, CreatedAt in UTC to the microsecond.
// It returns [ErrNotFound] when no tag has that id.
func (s *Store) GetTag(ctx context.Context, uuid string) (Tag, error) {
	t, err := s.b.getTag(ctx, uuid)
	if errors.Is(err, sql.ErrNoRows) {
		return Tag{}, fmt.Errorf("get tag %q: %w", uuid, ErrNotFound)
	}
	if err != nil {
		return Tag{}, fmt.Errorf("get tag %q: %w", uuid, err)
	}
	return t, nil
}
