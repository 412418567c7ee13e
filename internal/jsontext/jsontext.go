// Package jsontext inspects raw JSON text for what encoding/json accepts
// but the databases or a faithful round trip do not: half of a UTF-16
// surrogate pair in a string escape, and nesting deeper than MariaDB's
// JSON functions allow.
package jsontext

import "strconv"

// HasLoneSurrogate reports whether raw holds a \uD800-\uDFFF escape that
// is not a high surrogate followed at once by a low one. encoding/json
// decodes such an escape as U+FFFD, and MariaDB's JSON_VALID refuses it.
func HasLoneSurrogate(raw []byte) bool {
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

// Depth returns the deepest nesting of objects and arrays in raw, which
// must be valid JSON: 1 for {"a": 1}, 2 for {"a": [1]}.
func Depth(raw []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
