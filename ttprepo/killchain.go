package ttprepo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// KillChainPhase is one phase of the Unified Kill Chain.
//
// Source: Paul Pols, "The Unified Kill Chain", 2017, revised 2022,
// https://www.unifiedkillchain.com/. The model orders 18 attack phases in
// three cycles: In (gaining an initial foothold), Through (propagating
// through the network) and Out (acting on objectives). The 2022 revision
// names phase 2 "Resource Development" (2017: "Weaponization") to follow
// ATT&CK.
type KillChainPhase struct {
	// Order is the phase's place in the chain, 1 to 18; 0 for a tactic
	// the map does not know.
	Order int    `json:"order"`
	Name  string `json:"name"`
	// Cycle is "In", "Through" or "Out".
	Cycle string `json:"cycle"`
}

// ukcPhases lists the 18 phases in order.
var ukcPhases = []KillChainPhase{
	{1, "Reconnaissance", "In"},
	{2, "Resource Development", "In"},
	{3, "Delivery", "In"},
	{4, "Social Engineering", "In"},
	{5, "Exploitation", "In"},
	{6, "Persistence", "In"},
	{7, "Defense Evasion", "In"},
	{8, "Command & Control", "In"},
	{9, "Pivoting", "Through"},
	{10, "Discovery", "Through"},
	{11, "Privilege Escalation", "Through"},
	{12, "Execution", "Through"},
	{13, "Credential Access", "Through"},
	{14, "Lateral Movement", "Through"},
	{15, "Collection", "Out"},
	{16, "Exfiltration", "Out"},
	{17, "Impact", "Out"},
	{18, "Objectives", "Out"},
}

// tacticPhase maps an ATT&CK tactic id to the Order of its UKC phase.
// Most enterprise tactics have a phase of the same name. Initial Access
// spans Delivery, Social Engineering and Exploitation in the UKC; a tag
// carries no finer hint, so it goes to Delivery, the first phase in which
// the target is reached. The ICS tactics go to the phase of their
// enterprise namesake, and Impair Process Control, which manipulates the
// physical process, to Impact. Social Engineering, Pivoting and
// Objectives have no ATT&CK tactic and are never reached from a tag.
var tacticPhase = map[string]int{
	"TA0043": 1,  // Reconnaissance
	"TA0042": 2,  // Resource Development
	"TA0001": 3,  // Initial Access
	"TA0002": 12, // Execution
	"TA0003": 6,  // Persistence
	"TA0004": 11, // Privilege Escalation
	"TA0005": 7,  // Defense Evasion
	"TA0006": 13, // Credential Access
	"TA0007": 10, // Discovery
	"TA0008": 14, // Lateral Movement
	"TA0009": 15, // Collection
	"TA0011": 8,  // Command and Control
	"TA0010": 16, // Exfiltration
	"TA0040": 17, // Impact
	"TA0100": 15, // Collection (ICS)
	"TA0102": 10, // Discovery (ICS)
	"TA0105": 17, // Impact (ICS)
	"TA0106": 17, // Impair Process Control (ICS)
}

// UKCPhases returns the 18 phases of the Unified Kill Chain in order.
func UKCPhases() []KillChainPhase { return slices.Clone(ukcPhases) }

// UKCPhase returns the Unified Kill Chain phase of an ATT&CK tactic id,
// and false for a tactic the map does not know (the zero phase).
func UKCPhase(tactic string) (KillChainPhase, bool) {
	order, ok := tacticPhase[tactic]
	if !ok {
		return KillChainPhase{}, false
	}
	return ukcPhases[order-1], true
}

// KillChainStep is one tactic observation on a decky with its phase.
// Phase is the zero phase for a tactic the map does not know.
type KillChainStep struct {
	DeckyID   string         `json:"decky_id"`
	Tactic    string         `json:"tactic"`
	CreatedAt time.Time      `json:"created_at"`
	Phase     KillChainPhase `json:"phase"`
}

// DeckyKillChain sums up one decky's observations: the phase of the
// first and of the last observation in time (ties broken by tag id), the
// furthest phase reached in chain order, and how many observations have a
// tactic the map does not know.
type DeckyKillChain struct {
	DeckyID         string         `json:"decky_id"`
	Observations    int            `json:"observations"`
	FirstSeen       time.Time      `json:"first_seen"`
	LastSeen        time.Time      `json:"last_seen"`
	FirstTactic     string         `json:"first_tactic"`
	FirstPhase      KillChainPhase `json:"first_phase"`
	LastTactic      string         `json:"last_tactic"`
	LastPhase       KillChainPhase `json:"last_phase"`
	FurthestPhase   KillChainPhase `json:"furthest_phase"`
	UnmappedTactics int            `json:"unmapped_tactics"`
}

// KillChain is an identity's tactic observations placed on the Unified
// Kill Chain: every observation in time order, then one summary per
// decky, ordered by decky id.
type KillChain struct {
	Steps   []KillChainStep  `json:"observations"`
	Deckies []DeckyKillChain `json:"deckies"`
}

// KillChainByIdentity places the tactics seen in an identity's scope (see
// [Store.ListDeckyPhases]) on the Unified Kill Chain, per decky. Tags
// with no decky are left out, as there.
func (s *Store) KillChainByIdentity(ctx context.Context, identityID string) (KillChain, error) {
	obs, err := s.ListDeckyPhases(ctx, identityID)
	if err != nil {
		return KillChain{}, fmt.Errorf("kill chain: %w", err)
	}
	kc := KillChain{Steps: make([]KillChainStep, 0, len(obs)), Deckies: []DeckyKillChain{}}
	byDecky := map[string]*DeckyKillChain{}
	for _, o := range obs {
		phase, known := UKCPhase(o.Tactic)
		kc.Steps = append(kc.Steps, KillChainStep{DeckyID: o.DeckyID, Tactic: o.Tactic, CreatedAt: o.CreatedAt, Phase: phase})

		// Observations come in time order, so the first one seen for a
		// decky is its first and each later one its last so far.
		d := byDecky[o.DeckyID]
		if d == nil {
			d = &DeckyKillChain{DeckyID: o.DeckyID, FirstSeen: o.CreatedAt, FirstTactic: o.Tactic, FirstPhase: phase}
			byDecky[o.DeckyID] = d
		}
		d.Observations++
		d.LastSeen, d.LastTactic, d.LastPhase = o.CreatedAt, o.Tactic, phase
		if !known {
			d.UnmappedTactics++
		} else if phase.Order > d.FurthestPhase.Order {
			d.FurthestPhase = phase
		}
	}
	for _, d := range byDecky {
		kc.Deckies = append(kc.Deckies, *d)
	}
	slices.SortFunc(kc.Deckies, func(a, b DeckyKillChain) int { return cmp.Compare(a.DeckyID, b.DeckyID) })
	return kc, nil
}
