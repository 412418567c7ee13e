package ttprepo

import (
	"context"
	"fmt"
)

// Rollup methods return rows ordered by technique, then sub-technique with
// none first, and an empty slice for a scope with no tags.

// ListTechniquesByIdentity rolls up an identity's scope: tags anchored on
// the identity plus tags of the attackers that currently belong to it, a
// tag matching both ways counted once.
func (s *Store) ListTechniquesByIdentity(ctx context.Context, identityID string) ([]TechniqueRollup, error) {
	rows, err := s.b.techniquesByIdentity(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("techniques by identity %q: %w", identityID, err)
	}
	return rows, nil
}

// ListTechniquesByAttacker rolls up the tags anchored on an attacker;
// identity-level tags (no attacker) never appear.
func (s *Store) ListTechniquesByAttacker(ctx context.Context, attackerID string) ([]TechniqueRollup, error) {
	rows, err := s.b.techniquesByAttacker(ctx, attackerID)
	if err != nil {
		return nil, fmt.Errorf("techniques by attacker %q: %w", attackerID, err)
	}
	return rows, nil
}

// ListTechniquesBySession rolls up the tags of one session.
func (s *Store) ListTechniquesBySession(ctx context.Context, sessionID string) ([]TechniqueRollup, error) {
	rows, err := s.b.techniquesBySession(ctx, sessionID)
	if err != nil {
		return nil, fmt.Errorf("techniques by session %q: %w", sessionID, err)
	}
	return rows, nil
}

// ListTechniquesByCampaign rolls up the union of the campaign's identity
// scopes, so a tag anchored only on an attacker of a member identity
// counts.
func (s *Store) ListTechniquesByCampaign(ctx context.Context, campaignID string) ([]CampaignTechnique, error) {
	rows, err := s.b.techniquesByCampaign(ctx, campaignID)
	if err != nil {
		return nil, fmt.Errorf("techniques by campaign %q: %w", campaignID, err)
	}
	return rows, nil
}

// ListDistinctTechniques lists every technique stored in the fleet. It
// reads a summary kept exact by triggers, so its cost does not grow with
// the number of tags.
func (s *Store) ListDistinctTechniques(ctx context.Context) ([]FleetTechnique, error) {
	rows, err := s.b.distinctTechniques(ctx)
	if err != nil {
		return nil, fmt.Errorf("distinct techniques: %w", err)
	}
	return rows, nil
}

// ListDeckyPhases returns the tactics observed in an identity's scope on
// each decky, ordered by time, then tag id. Tags with no decky are left
// out.
func (s *Store) ListDeckyPhases(ctx context.Context, identityID string) ([]PhaseObservation, error) {
	rows, err := s.b.deckyPhases(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("decky phases %q: %w", identityID, err)
	}
	return rows, nil
}
