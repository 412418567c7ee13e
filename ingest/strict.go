package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ttpstore/ttpstore/internal/jsontext"
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
		if isString && jsontext.HasLoneSurrogate(raw) {
			return &LineError{Line: lineNo, Field: key, Reason: "holds a \\u escape of half a surrogate pair, which is not a character"}
		}
	}
	return nil
}
