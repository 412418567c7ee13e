package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// exactFloat is a JSON number that a float64 holds as written: the text
// has the value of the float64's shortest decimal form, the one the store
// gives back, or of its exact binary value. "0.3", "0.30" and
// "0.299999999999999988897769753748434595763683319091796875" qualify;
// "0.29999999999999999" does not, since it would be stored, and compared
// with the floor, as 0.3, and neither does "1e-400", which would become 0.
type exactFloat float64

// maxExactDigits bounds the significant digits of an exact float64: the
// longest exact decimal form, of the smallest subnormals, has 767.
const maxExactDigits = 800

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
	v, reason := readExactFloat(string(b))
	if reason != "" {
		return &inexactError{reason: reason}
	}
	*f = exactFloat(v)
	return nil
}

// inexactError is a number the store would change; ParseTagLine turns it
// into a LineError for the confidence field.
type inexactError struct{ reason string }

func (e *inexactError) Error() string { return e.reason }

// readExactFloat reads a JSON number, or says why a float64 cannot hold
// it as written. The number is first brought to a canonical form, its
// significant digits and a power of ten, so that neither a long run of
// zeros nor an exponent too large for strconv (which stops reading an
// exponent past 10,000) can make it read as another number.
func readExactFloat(text string) (float64, string) {
	neg, digits, exp := canonicalNumber(text)
	if digits == "" {
		if neg {
			return math.Copysign(0, -1), ""
		}
		return 0, ""
	}
	n := len(digits)
	// The value is digits × 10^exp, between 10^(exp+n-1) and 10^(exp+n).
	switch {
	case exp+n-1 > 308:
		return 0, "is too large for a double"
	case exp+n < -324:
		return 0, "cannot be held exactly as a double (it would be stored as 0)"
	case n > maxExactDigits:
		return 0, fmt.Sprintf("cannot be held exactly as a double (it has %d significant digits)", n)
	}
	canonical := digits + "e" + strconv.Itoa(exp)
	if neg {
		canonical = "-" + canonical
	}
	v, err := strconv.ParseFloat(canonical, 64)
	if err != nil && math.IsInf(v, 0) {
		return 0, "is too large for a double"
	}
	if n <= 15 && math.Abs(v) >= minNormal {
		return v, ""
	}
	written, _ := new(big.Rat).SetString(canonical)
	shortest := strconv.FormatFloat(v, 'g', -1, 64)
	// The text may be the float64's shortest form, or its exact binary
	// value written out in full: either way nothing is lost.
	if s, ok := new(big.Rat).SetString(shortest); ok && written.Cmp(s) == 0 {
		return v, ""
	}
	if written.Cmp(new(big.Rat).SetFloat64(v)) == 0 {
		return v, ""
	}
	return 0, fmt.Sprintf("cannot be held exactly as a double (it would be stored as %s)", shortest)
}

// canonicalNumber splits a JSON number into its sign, its significant
// digits (no leading or trailing zeros; empty for zero) and the power of
// ten they are multiplied by. An exponent too large for an int saturates,
// which still places the value far outside a float64's range.
func canonicalNumber(text string) (neg bool, digits string, exp int) {
	i := 0
	if i < len(text) && text[i] == '-' {
		neg = true
		i++
	}
	var mant []byte
	frac, inFrac := 0, false
	for ; i < len(text); i++ {
		c := text[i]
		if c == '.' {
			inFrac = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		if c == '0' && len(mant) == 0 {
			if inFrac {
				frac++
			}
			continue
		}
		mant = append(mant, c)
		if inFrac {
			frac++
		}
	}
	e := 0
	if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
		i++
		eneg := false
		if i < len(text) && (text[i] == '+' || text[i] == '-') {
			eneg = text[i] == '-'
			i++
		}
		for ; i < len(text); i++ {
			if e < 1e9 {
				e = e*10 + int(text[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	trailing := 0
	for len(mant) > 0 && mant[len(mant)-1] == '0' {
		mant = mant[:len(mant)-1]
		trailing++
	}
	return neg, string(mant), e - frac + trailing
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
		return time.Time{}, fmt.Sprintf("%s is not an RFC 3339 time", quoteShort(s))
	}
	return at, ""
}

// checkRFC3339 checks what time.Parse does not: the form
// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), an offset of at most
// 23:59, and no nonzero fraction digit past the microsecond. Dates and
// clock fields are left to time.Parse.
func checkRFC3339(s string) string {
	notRFC := fmt.Sprintf("%s is not an RFC 3339 time", quoteShort(s))
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
				return fmt.Sprintf("%s is finer than a microsecond, which the store cannot keep", quoteShort(s))
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
			return fmt.Sprintf("%s is not an RFC 3339 time: offset %s is out of range", quoteShort(s), rest)
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

// quoteShort quotes s for an error message, cut to its first 64 bytes (at
// a character boundary): a line may be 2 MiB long.
func quoteShort(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
