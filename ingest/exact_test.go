package ingest

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadExactFloat checks readExactFloat against exact rational
// arithmetic: a number is accepted exactly when its value is that of the
// nearest float64's shortest form or of the float64 itself, and then
// reads as that float64.
func FuzzReadExactFloat(f *testing.F) {
	for _, seed := range []string{
		"0.3", "0.30", "3E-1", "0.29999999999999999", "1.0000000000000001", "1e-400", "1e400",
		"5e-324", "2e-324", "-0", "0.1", "0.299999999999999988897769753748434595763683319091796875",
		"1.7976931348623157e308", "1.7976931348623159e308", "2.2250738585072014e-308", "123456789012345678",
		"0.30000000000000004" + strings.Repeat("0", 40), "0." + strings.Repeat("0", 300) + "3e300",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if text == "" || text != strings.TrimSpace(text) || !(text[0] == '-' || text[0] >= '0' && text[0] <= '9') || !json.Valid([]byte(text)) {
			return
		}
		if i := strings.IndexAny(text, "eE"); i >= 0 {
			if e, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+")); err != nil || e > 5000 || e < -5000 {
				return // big.Rat would build a huge power of ten
			}
		}
		written, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("%q: big.Rat cannot read it", text)
		}
		nearest, _ := written.Float64()
		exact := false
		if !math.IsInf(nearest, 0) {
			shortest, _ := new(big.Rat).SetString(strconv.FormatFloat(nearest, 'g', -1, 64))
			exact = written.Cmp(shortest) == 0 || written.Cmp(new(big.Rat).SetFloat64(nearest)) == 0
		}
		v, reason := readExactFloat(text)
		if exact != (reason == "") {
			t.Fatalf("%q: accepted %v (%s), want %v", text, reason == "", reason, exact)
		}
		if exact && math.Float64bits(v) != math.Float64bits(nearest) && v != nearest {
			t.Fatalf("%q: read as %v, want %v", text, v, nearest)
		}
	})
}
