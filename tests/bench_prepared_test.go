package tests

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/ttpstore/ttpstore/db/mysqldb"
	"github.com/ttpstore/ttpstore/db/sqlitedb"
)

// onStatements runs queries on statements it prepares on first use and
// never closes; the benchmark's table outlives it. Only QueryContext is
// prepared: every rollup is a :many query. The other methods are the
// pool's own.
type onStatements struct {
	*sql.DB
	stmts map[string]*sql.Stmt
}

func (p *onStatements) QueryContext(ctx context.Context, q string, args ...interface{}) (*sql.Rows, error) {
	s, ok := p.stmts[q]
	if !ok {
		var err error
		if s, err = p.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		p.stmts[q] = s
	}
	return s.QueryContext(ctx, args...)
}

// generatedRollup calls the generated query behind a rollup of
// queryBenches on db, for the given backend.
func generatedRollup(backend, rollup string, db interface {
	sqlitedb.DBTX
	mysqldb.DBTX
}) func(ctx context.Context, id string) error {
	if backend == "sqlite" {
		q := sqlitedb.New(db)
		return func(ctx context.Context, id string) error {
			ns := sql.NullString{String: id, Valid: true}
			var err error
			switch rollup {
			case "identity":
				_, err = q.ListTechniquesByIdentity(ctx, ns)
			case "attacker":
				_, err = q.ListTechniquesByAttacker(ctx, ns)
			case "session":
				_, err = q.ListTechniquesBySession(ctx, ns)
			case "campaign":
				_, err = q.ListTechniquesByCampaign(ctx, ns)
			case "decky_phases":
				_, err = q.ListDeckyPhasesByIdentity(ctx, ns)
			case "distinct_techniques":
				_, err = q.ListDistinctTechniques(ctx)
			default:
				err = fmt.Errorf("no generated query for %q", rollup)
			}
			return err
		}
	}
	q := mysqldb.New(db)
	return func(ctx context.Context, id string) error {
		ns := sql.NullString{String: id, Valid: true}
		var err error
		switch rollup {
		case "identity":
			_, err = q.ListTechniquesByIdentity(ctx, mysqldb.ListTechniquesByIdentityParams{IdentityUuid: ns})
		case "attacker":
			_, err = q.ListTechniquesByAttacker(ctx, ns)
		case "session":
			_, err = q.ListTechniquesBySession(ctx, ns)
		case "campaign":
			_, err = q.ListTechniquesByCampaign(ctx, mysqldb.ListTechniquesByCampaignParams{CampaignID: ns})
		case "decky_phases":
			_, err = q.ListDeckyPhasesByIdentity(ctx, mysqldb.ListDeckyPhasesByIdentityParams{IdentityUuid: ns})
		case "distinct_techniques":
			_, err = q.ListDistinctTechniques(ctx)
		default:
			err = fmt.Errorf("no generated query for %q", rollup)
		}
		return err
	}
}

// BenchmarkPreparedStatements times each rollup's generated query run
// on the pool with its text (as sqlc's code does) and on a statement
// prepared once (as the store runs it), alternating call by call on the
// same table and scopes, and reports both medians and their ratio.
func BenchmarkPreparedStatements(b *testing.B) {
	sizes := []int{benchEnv("TTP_BENCH_SMALL", 100000), benchEnv("TTP_BENCH_LARGE", 1000000)}
	for _, be := range backends(b) {
		for _, lines := range sizes {
			for _, qb := range queryBenches {
				b.Run(fmt.Sprintf("%s/%s/lines=%d", be.name, qb.name, lines), func(b *testing.B) {
					t := openBenchTable(b, be.name, lines)
					ids := warmScopes(b, qb, t)
					db := t.store.DB()
					prepared := &onStatements{DB: db, stmts: map[string]*sql.Stmt{}}
					runs := [2]func(context.Context, string) error{
						generatedRollup(be.name, qb.name, db),
						generatedRollup(be.name, qb.name, prepared),
					}
					ctx := context.Background()
					for _, id := range ids {
						if err := runs[1](ctx, id); err != nil {
							b.Fatal(err)
						}
					}
					lat := alternate(b, func(i, n int) error { return runs[i](ctx, ids[n%len(ids)]) })
					b.ReportMetric(lat[0].median(), "text-median-us")
					b.ReportMetric(lat[1].median(), "prepared-median-us")
					b.ReportMetric(lat[1].median()/lat[0].median(), "ratio")
				})
			}
		}
	}
}
