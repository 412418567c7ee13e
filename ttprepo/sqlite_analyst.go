package ttprepo

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ttpstore/ttpstore/db/sqlitedb"
)

func sqliteTag(r sqlitedb.TtpTag) (Tag, error) {
	at, err := parseSQLiteTime(r.CreatedAt)
	if err != nil {
		return Tag{}, err
	}
	return Tag{
		UUID: r.Uuid, SourceKind: r.SourceKind, SourceID: r.SourceID,
		AttackerUUID: optString(r.AttackerUuid), IdentityUUID: optString(r.IdentityUuid),
		SessionID: optString(r.SessionID), DeckyID: optString(r.DeckyID),
		Tactic: r.Tactic, TechniqueID: r.TechniqueID, SubTechniqueID: optString(r.SubTechniqueID),
		Confidence: r.Confidence, RuleID: r.RuleID, RuleVersion: int32(r.RuleVersion),
		Evidence: json.RawMessage(r.Evidence), AttackRelease: r.AttackRelease,
		MitreURL: r.MitreUrl, CreatedAt: at,
	}, nil
}

func (b *sqliteBackend) tagPage(ctx context.Context, db dbtx, q tagPageQuery) ([]Tag, error) {
	gq := sqlitedb.New(db)
	id := sql.NullString{String: q.scope.ID, Valid: true}
	sub := nullString(q.sub)
	at := formatSQLiteTime(q.beforeAt)
	limit := int64(q.limit)

	var rows []sqlitedb.TtpTag
	var err error
	switch {
	case q.scope.Kind == ScopeAttacker && q.technique == "":
		rows, err = gq.ListAttackerTagsPage(ctx, sqlitedb.ListAttackerTagsPageParams{
			AttackerUuid: id, BeforeAt: at, BeforeUuid: q.beforeUUID, PageLimit: limit})
	case q.scope.Kind == ScopeAttacker:
		rows, err = gq.ListAttackerTechniqueTagsPage(ctx, sqlitedb.ListAttackerTechniqueTagsPageParams{
			AttackerUuid: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: at, BeforeUuid: q.beforeUUID, PageLimit: limit})
	case q.scope.Kind == ScopeSession:
		rows, err = gq.ListSessionTechniqueTagsPage(ctx, sqlitedb.ListSessionTechniqueTagsPageParams{
			SessionID: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: at, BeforeUuid: q.beforeUUID, PageLimit: limit})
	case q.scope.Kind == ScopeIdentity:
		rows, err = gq.ListIdentityTechniqueTagsPage(ctx, sqlitedb.ListIdentityTechniqueTagsPageParams{
			IdentityUuid: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: at, BeforeUuid: q.beforeUUID, PageLimit: limit})
	case q.scope.Kind == ScopeCampaign:
		rows, err = gq.ListCampaignTechniqueTagsPage(ctx, sqlitedb.ListCampaignTechniqueTagsPageParams{
			CampaignID: id, TechniqueID: q.technique, SubTechniqueID: sub,
			BeforeAt: at, BeforeUuid: q.beforeUUID, PageLimit: limit})
	default:
		return nil, fmt.Errorf("scope %q has no tag pages", q.scope.Kind)
	}
	if err != nil {
		return nil, err
	}
	return convertRows(rows, sqliteTag)
}

var sqliteExportSQL = namedQuery("sqlite/export.sql", "ExportAttackerTechniques")

func (b *sqliteBackend) exportSQL() string { return sqliteExportSQL }

// scanExport reads the columns of sqlitedb.ExportAttackerTechniquesRow,
// in the order sqlc generated them.
func (b *sqliteBackend) scanExport(rows *sql.Rows) (AttackerTechnique, error) {
	var r sqlitedb.ExportAttackerTechniquesRow
	if err := rows.Scan(&r.AttackerUuid, &r.TechniqueID, &r.SubTechniqueID, &r.Tactic,
		&r.TagCount, &r.FirstSeen, &r.LastSeen, &r.ConfidenceMax); err != nil {
		return AttackerTechnique{}, err
	}
	roll, err := sqliteRollup(r.TechniqueID, r.SubTechniqueID, r.Tactic, r.TagCount, r.FirstSeen, r.LastSeen, r.ConfidenceMax)
	return AttackerTechnique{AttackerUUID: r.AttackerUuid, TechniqueRollup: roll}, err
}

func sqliteNavigatorRow(tech string, sub sql.NullString, release string, count int64, first, last string) (navigatorRow, error) {
	f, err := parseSQLiteTime(first)
	if err != nil {
		return navigatorRow{}, err
	}
	l, err := parseSQLiteTime(last)
	if err != nil {
		return navigatorRow{}, err
	}
	return navigatorRow{techniqueID: tech, subID: optString(sub), release: release, count: count, firstSeen: f, lastSeen: l}, nil
}

func (b *sqliteBackend) navigatorRows(ctx context.Context, scope Scope) ([]navigatorRow, error) {
	id := sql.NullString{String: scope.ID, Valid: true}
	switch scope.Kind {
	case ScopeFleet:
		rows, err := b.q.NavigatorFleet(ctx)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r sqlitedb.NavigatorFleetRow) (navigatorRow, error) {
			return sqliteNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeIdentity:
		rows, err := b.q.NavigatorByIdentity(ctx, id)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r sqlitedb.NavigatorByIdentityRow) (navigatorRow, error) {
			return sqliteNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeAttacker:
		rows, err := b.q.NavigatorByAttacker(ctx, id)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r sqlitedb.NavigatorByAttackerRow) (navigatorRow, error) {
			return sqliteNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeSession:
		rows, err := b.q.NavigatorBySession(ctx, id)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r sqlitedb.NavigatorBySessionRow) (navigatorRow, error) {
			return sqliteNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	case ScopeCampaign:
		rows, err := b.q.NavigatorByCampaign(ctx, id)
		if err != nil {
			return nil, err
		}
		return convertRows(rows, func(r sqlitedb.NavigatorByCampaignRow) (navigatorRow, error) {
			return sqliteNavigatorRow(r.TechniqueID, r.SubTechniqueID, r.AttackRelease, r.TagCount, r.FirstSeen, r.LastSeen)
		})
	}
	return nil, fmt.Errorf("scope %q has no navigator rows", scope.Kind)
}

func (b *sqliteBackend) countTagsBefore(ctx context.Context, cutoff time.Time, release *string) (int64, error) {
	return b.q.CountTagsBefore(ctx, sqlitedb.CountTagsBeforeParams{
		Cutoff: formatSQLiteTime(cutoff), AttackRelease: nullString(release)})
}

func (b *sqliteBackend) deleteTagsBefore(ctx context.Context, tx *sql.Tx, cutoff time.Time, release *string, batch int) (int64, error) {
	return b.q.WithTx(tx).DeleteTagsBeforeBatch(ctx, sqlitedb.DeleteTagsBeforeBatchParams{
		Cutoff: formatSQLiteTime(cutoff), AttackRelease: nullString(release), BatchSize: int64(batch)})
}

func (b *sqliteBackend) explainPrefix() string { return "EXPLAIN QUERY PLAN " }
