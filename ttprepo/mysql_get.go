package ttprepo

import (
	"context"
	"encoding/json"
)

func (b *mysqlBackend) getTag(ctx context.Context, uuid string) (Tag, error) {
	r, err := b.q.GetTagByUUID(ctx, uuid)
	if err != nil {
		return Tag{}, err
	}
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
