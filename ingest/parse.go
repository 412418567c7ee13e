package ingest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// ErrBadLine matches every [*LineError].
var ErrBadLine = errors.New("bad line")

// LineError says why one input line was refused. Field is empty when the
// line as a whole is wrong (not JSON, not UTF-8).
type LineError struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// Is reports a match with ErrBadLine.
func (e *LineError) Is(target error) bool { return target == ErrBadLine }

// tagLine is the wire form of one tags.jsonl line. created_at is parsed by
// hand so that a bad one is reported by name rather than as a JSON error.
type tagLine struct {
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
	Confidence     *exactFloat     `json:"confidence"`
	RuleID         string          `json:"rule_id"`
	RuleVersion    *int32          `json:"rule_version"`
	Evidence       json.RawMessage `json:"evidence"`
	AttackRelease  string          `json:"attack_release"`
	MitreURL       string          `json:"mitre_url"`
	CreatedAt      *string         `json:"created_at"`
}

// ParseTagLine decodes one tags.jsonl line (lineNo is for errors only).
// A missing, null or empty created_at gives a zero CreatedAt, which the
// store fills with the time of the insert; one that does not parse as
// RFC 3339 is an error. Field values are checked later by
// [ttprepo.ValidateTag]; this only checks that the line can be read
// without losing anything.
func ParseTagLine(lineNo int, line []byte) (ttprepo.Tag, error) {
	// encoding/json would quietly replace invalid UTF-8 with U+FFFD,
	// changing the value stored; refuse the line instead.
	if !utf8.Valid(line) {
		return ttprepo.Tag{}, &LineError{Line: lineNo, Field: invalidUTF8Field(line), Reason: "is not valid UTF-8"}
	}
	if err := checkStrictObject(lineNo, line, tagLineFields); err != nil {
		return ttprepo.Tag{}, err
	}
	var w tagLine
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		return ttprepo.Tag{}, jsonLineError(lineNo, line, err)
	}
	// dec.More reports false for a stray '}' or ']', so look at the rest.
	if !isBlank(line[dec.InputOffset():]) {
		return ttprepo.Tag{}, &LineError{Line: lineNo, Reason: "has data after the JSON object"}
	}
	if w.Confidence == nil {
		return ttprepo.Tag{}, &LineError{Line: lineNo, Field: "confidence", Reason: "is missing"}
	}
	if w.RuleVersion == nil {
		return ttprepo.Tag{}, &LineError{Line: lineNo, Field: "rule_version", Reason: "is missing"}
	}
	t := ttprepo.Tag{
		UUID: w.UUID, SourceKind: w.SourceKind, SourceID: w.SourceID,
		AttackerUUID: w.AttackerUUID, IdentityUUID: w.IdentityUUID,
		SessionID: w.SessionID, DeckyID: w.DeckyID,
		Tactic: w.Tactic, TechniqueID: w.TechniqueID, SubTechniqueID: w.SubTechniqueID,
		Confidence: float64(*w.Confidence), RuleID: w.RuleID, RuleVersion: *w.RuleVersion,
		Evidence: w.Evidence, AttackRelease: w.AttackRelease, MitreURL: w.MitreURL,
	}
	if w.CreatedAt != nil && *w.CreatedAt != "" {
		at, reason := parseCreatedAt(*w.CreatedAt)
		if reason != "" {
			return ttprepo.Tag{}, &LineError{Line: lineNo, Field: "created_at", Reason: reason}
		}
		if at.IsZero() {
			// The store reads a zero time as "not given" and would put the
			// time of the insert in its place.
			return ttprepo.Tag{}, &LineError{Line: lineNo, Field: "created_at", Reason: fmt.Sprintf("%q is outside years 1000 to 9999", *w.CreatedAt)}
		}
		t.CreatedAt = at.UTC()
	}
	return t, nil
}

// FleetRecord is one fleet.jsonl line: exactly one of its fields is set.
type FleetRecord = ttprepo.FleetRecord

type fleetLine struct {
	Kind       string  `json:"kind"`
	UUID       string  `json:"uuid"`
	CampaignID *string `json:"campaign_id"`
	IP         *string `json:"ip"`
	IdentityID *string `json:"identity_id"`
}

// ParseFleetLine decodes one fleet.jsonl line: a campaign, an identity or
// an attacker, told apart by its "kind".
func ParseFleetLine(lineNo int, line []byte) (FleetRecord, error) {
	if !utf8.Valid(line) {
		return FleetRecord{}, &LineError{Line: lineNo, Reason: "is not valid UTF-8"}
	}
	if err := checkStrictObject(lineNo, line, fleetLineFields); err != nil {
		return FleetRecord{}, err
	}
	var w fleetLine
	if err := json.Unmarshal(line, &w); err != nil {
		return FleetRecord{}, jsonLineError(lineNo, line, err)
	}
	// A field of another kind of record would be dropped unread, and an
	// attacker without an ip stored with an empty one: refuse both.
	misplaced := func(field string, v *string) error {
		if v == nil {
			return nil
		}
		article := "a"
		if strings.ContainsRune("aeiou", rune(w.Kind[0])) {
			article = "an"
		}
		return &LineError{Line: lineNo, Field: field, Reason: fmt.Sprintf("does not belong to %s %s line", article, w.Kind)}
	}
	switch w.Kind {
	case "campaign":
		if err := cmp.Or(misplaced("campaign_id", w.CampaignID), misplaced("ip", w.IP), misplaced("identity_id", w.IdentityID)); err != nil {
			return FleetRecord{}, err
		}
		return FleetRecord{Campaign: &ttprepo.Campaign{UUID: w.UUID}}, nil
	case "identity":
		if err := cmp.Or(misplaced("ip", w.IP), misplaced("identity_id", w.IdentityID)); err != nil {
			return FleetRecord{}, err
		}
		return FleetRecord{Identity: &ttprepo.Identity{UUID: w.UUID, CampaignID: w.CampaignID}}, nil
	case "attacker":
		if err := misplaced("campaign_id", w.CampaignID); err != nil {
			return FleetRecord{}, err
		}
		if w.IP == nil {
			return FleetRecord{}, &LineError{Line: lineNo, Field: "ip", Reason: "is missing"}
		}
		return FleetRecord{Attacker: &ttprepo.Attacker{UUID: w.UUID, IP: *w.IP, IdentityID: w.IdentityID}}, nil
	default:
		return FleetRecord{}, &LineError{Line: lineNo, Field: "kind", Reason: fmt.Sprintf("%q is not campaign, identity or attacker", w.Kind)}
	}
}

// invalidUTF8Field names the first field, in line order, whose value
// holds invalid UTF-8, or returns "" when the line is not a JSON object
// or a key is to blame. Decoding into json.RawMessage keeps the bytes as
// they are, where decoding into a string would replace them.
func invalidUTF8Field(line []byte) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(line, &fields) != nil {
		return ""
	}
	name, at := "", len(line)
	for k, v := range fields {
		if utf8.ValidString(k) && !utf8.Valid(v) {
			if i := bytes.Index(line, v); i >= 0 && i < at {
				name, at = k, i
			}
		}
	}
	return name
}

// jsonLineError names the field of a JSON type mismatch, or of a syntax
// error inside a field's value, when it can.
func jsonLineError(lineNo int, line []byte, err error) error {
	var ie *inexactError
	if errors.As(err, &ie) {
		return &LineError{Line: lineNo, Field: "confidence", Reason: ie.reason}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &LineError{Line: lineNo, Field: te.Field, Reason: fmt.Sprintf("cannot hold a JSON %s", te.Value)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &LineError{Line: lineNo, Field: fieldAt(line, len(line)), Reason: "is not valid JSON: it ends inside the object"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if se.Offset == 1 && bytes.HasPrefix(line, []byte("\uFEFF")) {
			return &LineError{Line: lineNo, Reason: "starts with a byte order mark (U+FEFF); write the file as UTF-8 without one"}
		}
		// At the end of the input there is no offending byte: the field,
		// if any, is the one the line ends inside.
		at := int(se.Offset) - 1
		if int(se.Offset) >= len(line) && strings.HasPrefix(se.Error(), "unexpected end") {
			at = len(line)
		}
		return &LineError{Line: lineNo, Field: fieldAt(line, at), Reason: "is not valid JSON: " + se.Error()}
	}
	return &LineError{Line: lineNo, Reason: "is not a JSON object: " + err.Error()}
}

// fieldAt returns the top-level key whose value holds byte off of line
// (off = len(line): the string, object or array value the line ends
// inside), or "" when off is not inside a value of the top-level object
// or the key is written with escapes, which this scan does not decode.
func fieldAt(line []byte, off int) string {
	if off < 0 || off > len(line) {
		return ""
	}
	depth, key, inValue, inString := 0, "", false, false
	for i := 0; i < off; i++ {
		switch line[i] {
		case '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= off {
				// off is inside this string: a key's or a value's.
				if depth == 1 && !inValue {
					return ""
				}
				i, inString = off, true
				continue
			}
			if depth == 1 && !inValue {
				key = string(line[i+1 : j])
				if bytes.IndexByte(line[i+1:j], '\\') >= 0 {
					key = ""
				}
			}
			i = j
		case ':':
			if depth == 1 {
				inValue = true
			}
		case ',':
			if depth == 1 {
				inValue = false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	// A line that ends after a whole number, string or literal at the
	// top level ends between fields, not inside one.
	if off == len(line) && depth == 1 && !inString {
		return ""
	}
	if depth >= 1 && inValue {
		return key
	}
	return ""
}
