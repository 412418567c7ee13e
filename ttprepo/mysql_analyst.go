package ttprepo

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ttpstore/ttpstore/db/mysqldb"
)

// mysqlTagRow is the row every tag page query selects: the tag's columns
// without seq, the storage key no caller sees. sqlc gives each query its
// own row type with these same fields, which converts to this one.
type mysqlTagRow = mysqldb.GetTagByUUIDRow

// mysqlTagRows converts one query's rows to mysqlTagRow.
func mysqlTagRows[R any](rows []R, conv func(R) mysqlTagRow) []mysqlTagRow {
	out := make([]mysqlTagRow, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out
}

func mysqlTag(r mysqlTagRow) (Tag, error) {
	return Tag{
		UUID: r.Uuid, SourceKind: r.SourceKind, SourceID: r.SourceID,
		AttackerUUID: optString(r.AttackerUuid), IdentityUUID: optString(r.IdentityUuid),
		SessionID: optString(r.SessionID), DeckyID: optString(r.DeckyID),
		Tactic: r.Tactic, TechniqueID: r.TechniqueID, SubTechniqueID: optString(r.SubTechniqueID),
		Confidence: r.Confidence, RuleID: r.RuleID, RuleVersion: r.RuleVersion,
		Evidence: json.RawMessage(r.Evidence), AttackRelease: r.AttackRelease,
		MitreURL: r.MitreUrl, CreatedAt: r.CreatedAt.UTC(),
	}, nil
}

func (b *mysqlBackend) tagPage(ctx context.Context, db dbtx, q tagPageQuery) ([]Tag, error) {
	gq := mysqldb.New(db)
	id := sql.NullString{String: q.scope.ID, Valid: true}
	sub := nullString(q.sub)
	limit := int32(q.limit)

	var rows []mysqlTagRow
	var err error
	switch {
	case q.scope.Kind == ScopeAttacker && q.technique == "":
		var page []mysqldb.ListAttackerTagsPageRow
		page, err = gq.ListAttackerTagsPage(ctx, mysqldb.ListAttackerTagsPageParams{
			AttackerUuid: id, BeforeAt: q.beforeAt, BeforeUuid: q.beforeUUID, Limit: limit})
		rows = mysqlTagRows(page, func(r mysqldb.ListAttackerTagsPageRow) mysqlTagRow { return mysqlTagRow(r) })
	case q.scope.Kind == ScopeAttacker:
		var page []mysqldb.ListAttackerTechniqueTagsPageRow
		page, err = gq.ListAttackerTechniqueTagsPage(ctx, mysqldb.ListAttackerTechniqueTagsPageParams{
			AttackerUuid: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: q.beforeAt, BeforeUuid: q.beforeUUID, Limit: limit})
		rows = mysqlTagRows(page, func(r mysqldb.ListAttackerTechniqueTagsPageRow) mysqlTagRow { return mysqlTagRow(r) })
	case q.scope.Kind == ScopeSession:
		var page []mysqldb.ListSessionTechniqueTagsPageRow
		page, err = gq.ListSessionTechniqueTagsPage(ctx, mysqldb.ListSessionTechniqueTagsPageParams{
			SessionID: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: q.beforeAt, BeforeUuid: q.beforeUUID, Limit: limit})
		rows = mysqlTagRows(page, func(r mysqldb.ListSessionTechniqueTagsPageRow) mysqlTagRow { return mysqlTagRow(r) })
	case q.scope.Kind == ScopeIdentity:
		var page []mysqldb.ListIdentityTechniqueTagsPageRow
		page, err = gq.ListIdentityTechniqueTagsPage(ctx, mysqldb.ListIdentityTechniqueTagsPageParams{
			IdentityUuid: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: q.beforeAt, BeforeUuid: q.beforeUUID, Limit: limit})
		rows = mysqlTagRows(page, func(r mysqldb.ListIdentityTechniqueTagsPageRow) mysqlTagRow { return mysqlTagRow(r) })
	case q.scope.Kind == ScopeCampaign:
		var page []mysqldb.ListCampaignTechniqueTagsPageRow
		page, err = gq.ListCampaignTechniqueTagsPage(ctx, mysqldb.ListCampaignTechniqueTagsPageParams{
			CampaignID: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: q.beforeAt, BeforeUuid: q.beforeUUID, Limit: limit})
		rows = mysqlTagRows(page, func(r mysqldb.ListCampaignTechniqueTagsPageRow) mysqlTagRow { return mysqlTagRow(r) })
	default:
		return nil, fmt.Errorf("scope %q has no tag pages", q.scope.Kind)
	}
	if err != nil {
		return nil, err
	}
	return convertRows(rows, mysqlTag)
}

var mysqlExportSQL = namedQuery("mysql/export.sql", "ExportAttackerTechniques")

func (b *mysqlBackend) exportSQL() string { return mysqlExportSQL }

// scanExport reads the columns of mysqldb.ExportAttackerTechniquesRow,
// in the order sqlc generated them.
func (b *mysqlBackend) scanExport(rows *sql.Rows) (AttackerTechnique, error) {
	var r mysqldb.ExportAttackerTechniquesRow
	if err := rows.Scan(&r.AttackerUuid, &r.TechniqueID, &r.SubTechniqueID, &r.Tactic,
		&r.TagCount, &r.FirstSeen, &r.LastSeen, &r.ConfidenceMax); err != nil {
		return AttackerTechnique{}, err
	}
	roll, err := mysqlRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	return AttackerTechnique{AttackerUUID: r.AttackerUuid, TechniqueRollup: roll}, err
}

func mysqlNavigatorRow(tech string, sub sql.NullString, release string, count int64, first, last time.Time) (navigatorRow, error) {
	return navigatorRow{techniqueID: tech, subID: optString(sub), release: release, count: count,
		firstSeen: first.UTC(), lastSeen: last.UTC()}, nil
}

func (b *mysqlBackend) navigatorRows(ctx context.Context, scope Scope) ([]navigatorRow, error) {
	id := sql.NullString{String: scope.ID, Valid: true}
	switch scope.Kind {
	case ScopeFleet:
		rows, err := b.q.NavigatorFleet(ctx)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r mysqldb.NavigatorFleetRow) (navigatorRow, error) {
			return mysqlNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeIdentity:
		rows, err := b.q.NavigatorByIdentity(ctx, mysqldb.NavigatorByIdentityParams{IdentityUuid: id})
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r mysqldb.NavigatorByIdentityRow) (navigatorRow, error) {
			return mysqlNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeAttacker:
		rows, err := b.q.NavigatorByAttacker(ctx, id)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r mysqldb.NavigatorByAttackerRow) (navigatorRow, error) {
			return mysqlNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeSession:
		rows, err := b.q.NavigatorBySession(ctx, id)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r mysqldb.NavigatorBySessionRow) (navigatorRow, error) {
			return mysqlNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeCampaign:
		rows, err := b.q.NavigatorByCampaign(ctx, mysqldb.NavigatorByCampaignParams{CampaignID: id})
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r mysqldb.NavigatorByCampaignRow) (navigatorRow, error) {
			return mysqlNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	}
	return nil, fmt.Errorf("scope %q has no navigator rows", scope.Kind)
}

func (b *mysqlBackend) countTagsBefore(ctx context.Context, cutoff time.Time, release *string) (int64, error) {
	return b.q.CountTagsBefore(ctx, mysqldb.CountTagsBeforeParams{Cutoff: cutoff, AttackRelease: nullString(release)})
}

func (b *mysqlBackend) deleteTagsBefore(ctx context.Context, tx *sql.Tx, cutoff time.Time, release *string, batch int) (int64, error) {
	return b.q.WithTx(tx).DeleteTagsBeforeBatch(ctx, mysqldb.DeleteTagsBeforeBatchParams{
		Cutoff: cutoff, AttackRelease: nullString(release), Limit: int32(batch)})
}

func (b *mysqlBackend) explainPrefix() string { return "EXPLAIN " }
