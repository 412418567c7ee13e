package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"
)

// exactFloat is a JSON number that a float64 holds as written: the text
// has the value of the float64's shortest decimal form, the one the store
// gives back, or of its exact binary value. "0.3", "0.30" and
// "0.299999999999999988897769753748434595763683319091796875" qualify;
// "0.29999999999999999" does not, since it would be stored, and compared
// with the floor, as 0.3, and neither does "1e-400", which would become 0.
type exactFloat float64

// maxExactFloatLen bounds the text of a number checked digit by digit.
// Every float64 has an exact decimal form shorter than this (the longest,
// of the smallest subnormals, has 767 significant digits), so a longer
// text only pads one with zeros, or holds more digits than a float64 can.
const maxExactFloatLen = 1100

// minNormal is the smallest positive normal float64. Above it, a decimal
// of at most 15 significant digits always comes back from its float64
// unchanged (a float64 carries 15.95 decimal digits).
const minNormal = 0x1p-1022

func (f *exactFloat) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '"':
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[float64]()}
	case 't', 'f':
		return &json.UnmarshalTypeError{Value: "bool", Type: reflect.TypeFor[float64]()}
	case '{':
		return &json.UnmarshalTypeError{Value: "object", Type: reflect.TypeFor[float64]()}
	case '[':
		return &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[float64]()}
	}
	text := string(b)
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) {
		return &inexactError{text: text, reason: "is too large for a double"}
	}
	if !exactDecimal(text, v) {
		shortest := strconv.FormatFloat(v, 'g', -1, 64)
		return &inexactError{text: text, reason: fmt.Sprintf("cannot be held exactly as a double (it would be stored as %s)", shortest)}
	}
	*f = exactFloat(v)
	return nil
}

// inexactError is a number the store would change; ParseTagLine turns it
// into a LineError for the confidence field.
type inexactError struct{ text, reason string }

func (e *inexactError) Error() string { return e.text + " " + e.reason }

// exactDecimal reports whether the JSON number text has the value of the
// shortest decimal form of v, the float64 parsed from it.
func exactDecimal(text string, v float64) bool {
	digits, nonzero := significantDigits(text)
	if v == 0 {
		return !nonzero
	}
	if digits <= 15 && math.Abs(v) >= minNormal {
		return true
	}
	if len(text) > maxExactFloatLen {
		return false
	}
	written, ok := new(big.Rat).SetString(text)
	if !ok {
		return false
	}
	// The text may be the float64's shortest form, or its exact binary
	// value written out in full: either way nothing is lost.
	if shortest, ok := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64)); ok && written.Cmp(shortest) == 0 {
		return true
	}
	return written.Cmp(new(big.Rat).SetFloat64(v)) == 0
}

// significantDigits counts the digits of a JSON number's mantissa from its
// first nonzero digit to its last nonzero one, and reports whether it has
// any nonzero digit.
func significantDigits(text string) (n int, nonzero bool) {
	first, last, pos := -1, -1, 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = pos
			}
			last = pos
		}
		pos++
	}
	if first < 0 {
		return 0, false
	}
	return last - first + 1, true
}

// parseCreatedAt reads an RFC 3339 time as the store keeps it. time.Parse
// alone is looser than RFC 3339 and than the store: it takes a comma
// before the fraction and offsets such as +24:00 or +05:60, and it drops
// fraction digits past the ninth without a word. Those are refused here,
// as is any nonzero digit past the sixth, which the store cannot keep.
// The reason returned is empty when s is accepted.
func parseCreatedAt(s string) (time.Time, string) {
	if reason := checkRFC3339(s); reason != "" {
		return time.Time{}, reason
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Sprintf("%q is not an RFC 3339 time", s)
	}
	return at, ""
}

// checkRFC3339 checks what time.Parse does not: the form
// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), an offset of at most
// 23:59, and no nonzero fraction digit past the microsecond. Dates and
// clock fields are left to time.Parse.
func checkRFC3339(s string) string {
	notRFC := fmt.Sprintf("%q is not an RFC 3339 time", s)
	const clockEnd = len("2006-01-02T15:04:05")
	if len(s) < clockEnd+1 {
		return notRFC
	}
	for i := 0; i < clockEnd; i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return notRFC
			}
		case 10:
			if c != 'T' {
				return notRFC
			}
		case 13, 16:
			if c != ':' {
				return notRFC
			}
		default:
			if c < '0' || c > '9' {
				return notRFC
			}
		}
	}
	rest := s[clockEnd:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n > 6 && rest[n] != '0' {
				return fmt.Sprintf("%q is finer than a microsecond, which the store cannot keep", s)
			}
			n++
		}
		if n == 1 {
			return notRFC
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return ""
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		h, okH := twoDigits(rest[1:3])
		m, okM := twoDigits(rest[4:6])
		if !okH || !okM {
			return notRFC
		}
		if h > 23 || m > 59 {
			return fmt.Sprintf("%q is not an RFC 3339 time: offset %s is out of range", s, rest)
		}
		return ""
	}
	return notRFC
}

// twoDigits reads two ASCII digits.
func twoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
