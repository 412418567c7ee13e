package ttprepo

import (
	"context"
	"fmt"
	"iter"
)

// AttackerTechnique is one row of [Store.ExportAttackerTechniques]: an
// attacker and one technique of its rollup.
type AttackerTechnique struct {
	AttackerUUID string `json:"attacker_uuid"`
	TechniqueRollup
}

// ExportAttackerTechniques streams every attacker's technique rollup,
// ordered by attacker, then technique and sub-technique (none first): for
// each attacker, the rows [Store.ListTechniquesByAttacker] returns. It is
// one query whose rows are read as the caller ranges over them, so memory
// stays flat however large the fleet.
//
// An error ends the sequence: it is yielded once, with a zero row.
// Breaking out of the loop closes the query. The query holds one pooled
// connection while the loop runs; on a store limited to one connection
// (SQLite ":memory:"), do not call the store from inside the loop.
func (s *Store) ExportAttackerTechniques(ctx context.Context) iter.Seq2[AttackerTechnique, error] {
	return func(yield func(AttackerTechnique, error) bool) {
		// sqlc's :many code would collect every row into a slice first,
		// so the generated query's text runs here instead (see
		// queries/*/export.sql).
		rows, err := s.db.QueryContext(ctx, s.b.exportSQL())
		if err != nil {
			yield(AttackerTechnique{}, fmt.Errorf("export attacker techniques: %w", err))
			return
		}
		defer rows.Close()

		for rows.Next() {
			r, err := s.b.scanExport(rows)
			if err != nil {
				yield(AttackerTechnique{}, fmt.Errorf("export attacker techniques: %w", err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(AttackerTechnique{}, fmt.Errorf("export attacker techniques: %w", err))
		}
	}
}
