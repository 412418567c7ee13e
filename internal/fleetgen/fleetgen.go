// Package fleetgen writes synthetic honeypot fleets and tag streams of any
// size for benchmarks and load tests. The output has the formats of
// testdata/fleet-small (fleet.jsonl and tags.jsonl) and its proportions:
// about one line in ten replays an earlier line, about a third fall below
// the confidence floor, some tags are anchored on an identity only, some
// on an attacker that has no identity yet, some on both, a few name an
// identity other than their attacker's, several tags of one source event
// share a created_at, and session, decky and sub-technique are sometimes
// null.
//
// Everything is derived from a seed: the same [Config] always gives the
// same bytes. The tag stream is written line by line in constant memory
// (a bounded window of recent lines feeds the replays), so a stream of
// ten million lines costs no more memory than one of a thousand.
package fleetgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// Per scale unit, the fleet has the shape of testdata/fleet-small.
const (
	CampaignsPerUnit  = 4
	IdentitiesPerUnit = 24
	AttackersPerUnit  = 80
	// LinesPerUnit is the default tag stream length per scale unit. At
	// scale 60 the stream is 103,200 lines, the size of the reference
	// stream the performance notes compare against.
	LinesPerUnit = 1720
)

// Stream proportions, read off testdata/fleet-small.
const (
	replayShare       = 0.09 // lines that repeat an earlier line byte for byte
	replayWindow      = 2048 // how far back a replay reaches, in lines
	identityKindShare = 0.09 // events seen on an identity, not an attacker
	bothAnchorsShare  = 0.5  // attacker tags that also name the identity
	otherIdentity     = 0.06 // of those, naming an identity not the attacker's
	noDeckyShare      = 0.10
	wholeSecondShare  = 0.01
	eventsPerSession  = 7 // mean source events in one session
)

// Rule is one entry of testdata/rules.json.
type Rule struct {
	RuleID      string   `json:"rule_id"`
	RuleVersion int32    `json:"rule_version"`
	AppliesTo   []string `json:"applies_to"`
	Emits       []Emit   `json:"emits"`
}

// Emit is one (tactic, technique) row a rule produces.
type Emit struct {
	Tactic         string  `json:"tactic"`
	TechniqueID    string  `json:"technique_id"`
	SubTechniqueID *string `json:"sub_technique_id"`
	Confidence     float64 `json:"confidence"`
}

// LoadRules reads a rules.json file.
func LoadRules(path string) ([]Rule, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var rules []Rule
	if err := json.Unmarshal(raw, &rules); err != nil {
		return nil, fmt.Errorf("parse rules %s: %w", path, err)
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("rules %s: no rules", path)
	}
	return rules, nil
}

// Config chooses the fleet and the stream.
type Config struct {
	// Scale is how many copies of fleet-small's shape the fleet has; at
	// least 1.
	Scale int
	// Lines is the tag stream length; 0 means Scale*LinesPerUnit.
	Lines int
	// Seed makes the output reproducible.
	Seed uint64
	// Rules are the rules tags are drawn from.
	Rules []Rule
	// Start is the created_at of the first event; zero means
	// 2026-03-01T00:00:00Z. The stream spans about nineteen days
	// whatever its length, like fleet-small: a bigger fleet is busier.
	Start time.Time
}

func (c Config) lines() int {
	if c.Lines > 0 {
		return c.Lines
	}
	return c.Scale * LinesPerUnit
}

// Fleet is the generated fleet, held in memory: its size grows with the
// scale, not with the stream length.
type Fleet struct {
	Campaigns  []ttprepo.Campaign
	Identities []ttprepo.Identity
	Attackers  []ttprepo.Attacker
	// weights[i] is the cumulative activity weight of attackers[0..i]:
	// some attackers are far busier than others.
	weights []float64
	// idWithAttackers lists identities that have at least one attacker;
	// identity-level events are seen only on those.
	idWithAttackers []int
	identityIndex   map[string]int
}

// NewFleet builds the fleet of cfg.Scale units.
func NewFleet(cfg Config) (*Fleet, error) {
	if cfg.Scale < 1 {
		return nil, fmt.Errorf("scale %d: want at least 1", cfg.Scale)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x666c656574)) // "fleet"
	f := &Fleet{identityIndex: map[string]int{}}
	// Identities per campaign and attackers per identity follow
	// fleet-small: campaigns of 7, 6, 5 and 3 identities and 3 identities
	// in none; identities of 0 to 9 attackers; 16 attackers unassigned.
	campaignSizes := []int{7, 6, 5, 3}
	attackerSizes := []int{9, 7, 7, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0}
	for u := 0; u < cfg.Scale; u++ {
		firstIdentity := len(f.Identities)
		for _, size := range campaignSizes {
			c := ttprepo.Campaign{UUID: hexID(rng)}
			f.Campaigns = append(f.Campaigns, c)
			for range size {
				f.Identities = append(f.Identities, ttprepo.Identity{UUID: hexID(rng), CampaignID: &c.UUID})
			}
		}
		for len(f.Identities)-firstIdentity < IdentitiesPerUnit {
			f.Identities = append(f.Identities, ttprepo.Identity{UUID: hexID(rng)})
		}
		unit := f.Identities[firstIdentity:]
		order := rng.Perm(len(unit))
		for k, size := range attackerSizes {
			id := &unit[order[k]].UUID
			for range size {
				f.addAttacker(rng, id)
			}
		}
		for len(f.Attackers) < (u+1)*AttackersPerUnit {
			f.addAttacker(rng, nil)
		}
	}
	for i, id := range f.Identities {
		f.identityIndex[id.UUID] = i
	}
	seen := map[string]bool{}
	for _, a := range f.Attackers {
		if a.IdentityID != nil && !seen[*a.IdentityID] {
			seen[*a.IdentityID] = true
			f.idWithAttackers = append(f.idWithAttackers, f.identityIndex[*a.IdentityID])
		}
	}
	sort.Ints(f.idWithAttackers)
	return f, nil
}

func (f *Fleet) addAttacker(rng *rand.Rand, identity *string) {
	n := len(f.Attackers) + 1
	var ip string
	switch n % 4 {
	case 0:
		ip = fmt.Sprintf("2001:db8::%x", n)
	case 1:
		ip = fmt.Sprintf("192.0.2.%d", n%254+1)
	case 2:
		ip = fmt.Sprintf("198.51.100.%d", n%254+1)
	default:
		ip = fmt.Sprintf("203.0.113.%d", n%254+1)
	}
	f.Attackers = append(f.Attackers, ttprepo.Attacker{UUID: hexID(rng), IP: ip, IdentityID: identity})
	// An exponential weight gives fleet-small's spread: most attackers
	// have a few dozen tags, a few have several times more.
	w := 0.1 + rng.ExpFloat64()
	if len(f.weights) > 0 {
		w += f.weights[len(f.weights)-1]
	}
	f.weights = append(f.weights, w)
}

func (f *Fleet) pickAttacker(rng *rand.Rand) int {
	x := rng.Float64() * f.weights[len(f.weights)-1]
	return sort.SearchFloat64s(f.weights, x)
}

// WriteJSONL writes the fleet as fleet.jsonl: campaigns, then identities,
// then attackers, so that every record's parent comes before it.
func (f *Fleet) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var b []byte
	for _, c := range f.Campaigns {
		b = append(b[:0], `{"kind": "campaign", "uuid": `...)
		b = appendString(b, c.UUID)
		bw.Write(append(b, "}\n"...))
	}
	for _, i := range f.Identities {
		b = append(b[:0], `{"kind": "identity", "uuid": `...)
		b = appendString(b, i.UUID)
		b = append(b, `, "campaign_id": `...)
		b = appendOptString(b, i.CampaignID)
		bw.Write(append(b, "}\n"...))
	}
	for _, a := range f.Attackers {
		b = append(b[:0], `{"kind": "attacker", "uuid": `...)
		b = appendString(b, a.UUID)
		b = append(b, `, "ip": `...)
		b = appendString(b, a.IP)
		b = append(b, `, "identity_id": `...)
		b = appendOptString(b, a.IdentityID)
		bw.Write(append(b, "}\n"...))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write fleet: %w", err)
	}
	return nil
}

// hexID returns 32 random hex digits, the id shape fleet-small uses.
func hexID(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
}

// appendString appends s as a JSON string. Every string the generator
// writes is its own: ids, fixed words and one fixed non-ASCII note, none
// holding a quote, a backslash or a control character.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// confidenceFactors scale a rule's base confidence the way the detectors
// weaken weak evidence; with fleet-small's mix of rules about a third of
// the tags fall below the 0.3 floor.
var confidenceFactors = []struct {
	factor float64
	weight float64
}{
	{1, 0.18}, {0.9, 0.17}, {0.85, 0.05}, {0.7, 0.15}, {0.5, 0.13},
	{0.3, 0.18}, {0.25, 0.12}, {0, 0.02},
}

func confidence(rng *rand.Rand, base float64) float64 {
	x := rng.Float64()
	for _, cf := range confidenceFactors {
		if x < cf.weight {
			return math.Round(base*cf.factor*1e4) / 1e4
		}
		x -= cf.weight
	}
	return base
}

// attackerKinds are the source kinds seen on an attacker; "identity" is
// seen on an identity.
var attackerKinds = []string{
	"auth_attempt", "credential", "http_request", "command", "session",
	"email", "canary_fingerprint", "intel", "ipv6_leak",
}

var services = []string{"ssh", "telnet", "smb", "ftp", "rdp"}

// appendEvidence appends a small evidence object shaped like the source
// kind's in fleet-small.
func appendEvidence(b []byte, rng *rand.Rand, kind string) []byte {
	switch kind {
	case "intel":
		cls := [...]string{"benign", "malicious", "unknown"}[rng.IntN(3)]
		b = append(b, `{"abuseipdb_score": `...)
		b = strconv.AppendFloat(b, float64(rng.IntN(100)), 'f', 1, 64)
		return append(append(append(b, `, "greynoise_classification": "`...), cls...), `"}`...)
	case "email":
		b = append(b, `{"body_sha256": "`...)
		b = fmt.Appendf(b, "%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
		b = append(b, `", "matched_headers": ["Reply-To"], "rcpt_domain_set": ["example.org"], "rcpt_count": `...)
		return append(strconv.AppendInt(b, int64(1+rng.IntN(40)), 10), '}')
	case "command":
		return fmt.Appendf(b, `{"matched_tokens": ["curl", "base64"], "rule_pattern": "\\b(wget|curl)\\b", "argc": %d}`, 1+rng.IntN(9))
	case "http_request":
		return fmt.Appendf(b, `{"kind": "ja4h", "hash": "ge11nn05enus_%012x", "protocol": "http/1.1", "raw": "GET / HTTP/1.1", "client_ip": "192.0.2.%d", "seen_at": %d}`,
			rng.Uint64()&0xffffffffffff, 1+rng.IntN(254), rng.IntN(1<<30))
	case "canary_fingerprint":
		return fmt.Appendf(b, `{"metric": "navigator_webdriver", "matched_signature": "S-%d"}`, rng.IntN(10))
	case "ipv6_leak":
		return fmt.Appendf(b, `{"addr": "fe80::%x", "iid_kind": "eui64", "vector": "passive_ndp"}`, rng.IntN(1<<16))
	default: // auth_attempt, credential, session, identity
		return fmt.Appendf(b, `{"fail_count": %d, "service": "%s", "note": "tentative échec ✓"}`, rng.IntN(400), services[rng.IntN(len(services))])
	}
}
