package ttprepo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ttpstore/ttpstore/internal/jsontext"
)

// Column limits, in characters, shared by both schemas (VARCHAR(n) on
// MySQL, CHECK (length(x) <= n) on SQLite). Checking them here gives a
// clear error before either database is asked.
const (
	MaxIDLen            = 64  // uuid, attacker_uuid, identity_uuid, rule_id, source_kind, ip
	MaxSourceIDLen      = 512 // source_id
	MaxSessionIDLen     = 128 // session_id, decky_id
	MaxAttackIDLen      = 16  // tactic, technique_id, sub_technique_id
	MaxAttackReleaseLen = 32
	MaxMitreURLLen      = 512

	// MaxEvidenceLen bounds evidence in bytes. Neither column has a
	// practical limit, but MySQL refuses any statement longer than its
	// max_allowed_packet (16 MiB by default on MariaDB, 64 MiB on MySQL
	// 8): a tag must fit in one statement, escaped, on a default server.
	MaxEvidenceLen = 1 << 20

	// MaxEvidenceDepth is how deep objects and arrays may nest in
	// evidence: MariaDB's JSON_VALID refuses 32 levels or more.
	MaxEvidenceDepth = 31
)

var (
	tacticPattern       = regexp.MustCompile(`^TA[0-9]{4}$`)
	techniquePattern    = regexp.MustCompile(`^T[0-9]{4}$`)
	subTechniquePattern = regexp.MustCompile(`^T[0-9]{4}\.[0-9]{3}$`)
)

// minTime and maxTime bound created_at to what DATETIME(6) can hold, so
// that SQLite never keeps an instant MySQL would refuse.
var (
	minTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// ValidateTag checks one tag as [Store.InsertTags] does, without the
// database: it reports the first wrong field as a [*TagError] whose Index
// is index. Anchors are checked for shape here and for existence at
// insert time.
func ValidateTag(index int, t *Tag) error {
	bad := func(field, format string, args ...any) error {
		return &TagError{Index: index, UUID: t.UUID, Field: field, Reason: fmt.Sprintf(format, args...)}
	}

	// Required text, then optional text: each must be valid UTF-8 without
	// NUL bytes (MySQL and SQLite disagree on both) and fit its column.
	required := []struct {
		field string
		value string
		max   int
	}{
		{"uuid", t.UUID, MaxIDLen},
		{"source_kind", t.SourceKind, MaxIDLen},
		{"source_id", t.SourceID, MaxSourceIDLen},
		{"rule_id", t.RuleID, MaxIDLen},
		{"attack_release", t.AttackRelease, MaxAttackReleaseLen},
		{"mitre_url", t.MitreURL, MaxMitreURLLen},
	}
	for _, r := range required {
		if r.value == "" && r.field != "mitre_url" && r.field != "attack_release" {
			return bad(r.field, "must not be empty")
		}
		if err := checkText(r.value, r.max); err != "" {
			return bad(r.field, "%s", err)
		}
	}
	optional := []struct {
		field string
		value *string
		max   int
	}{
		{"attacker_uuid", t.AttackerUUID, MaxIDLen},
		{"identity_uuid", t.IdentityUUID, MaxIDLen},
		{"session_id", t.SessionID, MaxSessionIDLen},
		{"decky_id", t.DeckyID, MaxSessionIDLen},
	}
	for _, o := range optional {
		if o.value == nil {
			continue
		}
		if *o.value == "" {
			return bad(o.field, "must be absent (null) or not empty")
		}
		if err := checkText(*o.value, o.max); err != "" {
			return bad(o.field, "%s", err)
		}
	}
	if t.AttackerUUID == nil && t.IdentityUUID == nil {
		return bad("attacker_uuid", "a tag needs an attacker_uuid, an identity_uuid, or both")
	}

	// ATT&CK ids: a sub-technique must sit under the tag's own technique.
	if !tacticPattern.MatchString(t.Tactic) {
		return bad("tactic", "%q is not an ATT&CK tactic id like TA0006", t.Tactic)
	}
	if !techniquePattern.MatchString(t.TechniqueID) {
		return bad("technique_id", "%q is not an ATT&CK technique id like T1110", t.TechniqueID)
	}
	if t.SubTechniqueID != nil {
		sub := *t.SubTechniqueID
		if !subTechniquePattern.MatchString(sub) {
			return bad("sub_technique_id", "%q is not an ATT&CK sub-technique id like T1110.001", sub)
		}
		if !strings.HasPrefix(sub, t.TechniqueID+".") {
			return bad("sub_technique_id", "%q is not a sub-technique of %s", sub, t.TechniqueID)
		}
	}

	// Numbers.
	c := t.Confidence
	if math.IsNaN(c) || math.IsInf(c, 0) || c < 0 || c > 1 {
		return bad("confidence", "%v is not within [0, 1]", c)
	}
	if t.RuleVersion < 0 {
		return bad("rule_version", "%d is negative", t.RuleVersion)
	}

	// Evidence is stored byte for byte, so it must already be a JSON object.
	if err := checkEvidence(t.Evidence); err != "" {
		return bad("evidence", "%s", err)
	}

	// A zero created_at is filled in at insert time; any other must fit
	// the column exactly, microseconds included.
	if !t.CreatedAt.IsZero() {
		u := t.CreatedAt.UTC()
		if u.Before(minTime) || u.After(maxTime) {
			return bad("created_at", "%s is outside years 1000 to 9999", u.Format(time.RFC3339Nano))
		}
		if u.Nanosecond()%1000 != 0 {
			return bad("created_at", "%s is finer than a microsecond, which the store cannot keep", u.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// checkText returns why s cannot be stored in a column of max characters,
// or "" when it can.
func checkText(s string, max int) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Sprintf("is %d characters long, more than the %d its column holds", n, max)
	}
	return ""
}

// checkEvidence returns why raw is not a storable JSON object, or "".
func checkEvidence(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "is missing (use {} for no evidence)"
	}
	if len(raw) > MaxEvidenceLen {
		return fmt.Sprintf("is %d bytes long, more than the %d allowed", len(raw), MaxEvidenceLen)
	}
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return "contains a NUL byte"
	}
	if !json.Valid(raw) {
		return "is not valid JSON"
	}
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return "is not a JSON object"
	}
	// Both checks below follow MariaDB's JSON_VALID, which the schema's
	// CHECK calls and which is stricter than encoding/json and SQLite.
	if d := jsontext.Depth(raw); d > MaxEvidenceDepth {
		return fmt.Sprintf("nests objects and arrays %d deep, more than the %d allowed", d, MaxEvidenceDepth)
	}
	if jsontext.HasLoneSurrogate(raw) {
		return "holds a \\u escape of half a surrogate pair, which is not a character"
	}
	return ""
}

// validateAnchorRecord checks a campaign, identity or attacker before it
// is upserted.
func validateAnchorRecord(kind, uuid string, fields map[string]*string) error {
	if uuid == "" {
		return &InputError{Kind: kind, UUID: uuid, Field: "uuid", Reason: "must not be empty"}
	}
	if err := checkText(uuid, MaxIDLen); err != "" {
		return &InputError{Kind: kind, UUID: uuid, Field: "uuid", Reason: err}
	}
	// In name order, so that a record with two bad fields is always
	// reported by the same one.
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		v := fields[field]
		if v == nil {
			continue
		}
		if *v == "" && field != "ip" {
			return &InputError{Kind: kind, UUID: uuid, Field: field, Reason: "must be absent (null) or not empty"}
		}
		if err := checkText(*v, MaxIDLen); err != "" {
			return &InputError{Kind: kind, UUID: uuid, Field: field, Reason: err}
		}
	}
	return nil
}
