package ttprepo

import (
	"context"
	"encoding/json"
)

func (b *sqliteBackend) getTag(ctx context.Context, uuid string) (Tag, error) {
	r, err := b.q.GetTagByUUID(ctx, uuid)
	if err != nil {
		return Tag{}, err
	}
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
