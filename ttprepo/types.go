package ttprepo

import (
	"encoding/json"
	"time"
)

// ConfidenceFloor is the lowest confidence a stored tag may have; tags
// below it are dropped before writing and never stored.
const ConfidenceFloor = 0.3

// Campaign groups identities believed to act together.
type Campaign struct {
	UUID string
}

// Identity is one actor behind one or more attacker IPs. CampaignID is
// nil while the identity belongs to no campaign.
type Identity struct {
	UUID       string
	CampaignID *string
}

// Attacker is one source IP seen by the fleet. IdentityID is nil until the
// clusterer has assigned it to an identity.
type Attacker struct {
	UUID       string
	IP         string
	IdentityID *string
}

// Tag is one observation of an ATT&CK technique: one source event, one
// technique, one rule. Optional fields are nil when absent. UUID is
// normally [TagUUID] of the tag's identity fields, which makes replays of
// the same event idempotent.
type Tag struct {
	UUID           string          `json:"uuid"`
	SourceKind     string          `json:"source_kind"`
	SourceID       string          `json:"source_id"`
	AttackerUUID   *string         `json:"attacker_uuid"`
	IdentityUUID   *string         `json:"identity_uuid"`
	SessionID      *string         `json:"session_id"`
	DeckyID        *string         `json:"decky_id"`
	Tactic         string          `json:"tactic"`
	TechniqueID    string          `json:"technique_id"`
	SubTechniqueID *string         `json:"sub_technique_id"`
	Confidence     float64         `json:"confidence"`
	RuleID         string          `json:"rule_id"`
	RuleVersion    int32           `json:"rule_version"`
	Evidence       json.RawMessage `json:"evidence"`
	AttackRelease  string          `json:"attack_release"`
	MitreURL       string          `json:"mitre_url"`
	// CreatedAt is kept to the microsecond and read back in UTC. A zero
	// value takes the time of the insert.
	CreatedAt time.Time `json:"created_at"`
}

// TechniqueRollup is one technique (and sub-technique) seen in a scope.
// Tactic is the greatest tactic id seen for it in that scope.
type TechniqueRollup struct {
	TechniqueID    string    `json:"technique_id"`
	SubTechniqueID *string   `json:"sub_technique_id"`
	Tactic         string    `json:"tactic"`
	Count          int64     `json:"count"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	ConfidenceMax  float64   `json:"confidence_max"`
}

// CampaignTechnique is one technique seen across a campaign's identities.
// Count counts each tag once; IdentityCount is how many member identities
// show the technique in their own scope.
type CampaignTechnique struct {
	TechniqueID    string    `json:"technique_id"`
	SubTechniqueID *string   `json:"sub_technique_id"`
	Tactic         string    `json:"tactic"`
	Count          int64     `json:"count"`
	IdentityCount  int64     `json:"identity_count"`
	LastSeen       time.Time `json:"last_seen"`
}

// FleetTechnique is one technique seen anywhere in the fleet.
type FleetTechnique struct {
	TechniqueID    string    `json:"technique_id"`
	SubTechniqueID *string   `json:"sub_technique_id"`
	Tactic         string    `json:"tactic"`
	Count          int64     `json:"count"`
	LastSeen       time.Time `json:"last_seen"`
}

// PhaseObservation is one tactic seen on one decky, the raw material of
// kill-chain analysis.
type PhaseObservation struct {
	DeckyID   string    `json:"decky_id"`
	Tactic    string    `json:"tactic"`
	CreatedAt time.Time `json:"created_at"`
	TagUUID   string    `json:"-"`
}
