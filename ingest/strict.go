package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Field names of a tags.jsonl line; every one but evidence, confidence
// and rule_version is decoded into a Go string.
var tagLineFields = map[string]bool{
	"uuid": true, "source_kind": true, "source_id": true,
	"attacker_uuid": true, "identity_uuid": true, "session_id": true,
	"decky_id": true, "tactic": true, "technique_id": true,
	"sub_technique_id": true, "confidence": false, "rule_id": true,
	"rule_version": false, "evidence": false, "attack_release": true,
	"mitre_url": true, "created_at": true,
}

// Field names of a fleet.jsonl line, all strings.
var fleetLineFields = map[string]bool{
	"kind": true, "uuid": true, "campaign_id": true, "ip": true, "identity_id": true,
}

// checkStrictObject refuses, before encoding/json decodes the line, what
// encoding/json would otherwise accept by quietly changing it: a key that
// matches a field only when case is ignored ("UUID"), a key given twice
// (the last would win), and a string escape that is half of a UTF-16
// surrogate pair ("\ud800", decoded as U+FFFD). Keys that are not fields
// at all are ignored, as encoding/json ignores them.
func checkStrictObject(lineNo int, line []byte, fields map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		// Not an object: the full decode reports it.
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		isString, known := fields[key]
		if !known {
			for name := range fields {
				if strings.EqualFold(name, key) {
					return &LineError{Line: lineNo, Field: name, Reason: fmt.Sprintf("is spelled %q; field names are case-sensitive", key)}
				}
			}
			continue
		}
		if seen[key] {
			return &LineError{Line: lineNo, Field: key, Reason: "is given more than once"}
		}
		seen[key] = true
		if isString && hasLoneSurrogate(raw) {
			return &LineError{Line: lineNo, Field: key, Reason: "holds a \\u escape of half a surrogate pair, which is not a character"}
		}
	}
	return nil
}

// hasLoneSurrogate reports whether a raw JSON value holds a \uD800-\uDFFF
// escape that is not a high surrogate followed at once by a low one.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character, which may itself be a backslash
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := uint64(0), false
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				low, ok = hex4(raw, i+8)
			}
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

func hex4(b []byte, at int) (uint64, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return v, err == nil
}
