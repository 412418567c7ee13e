package jsontext

import (
	"strings"
	"testing"
)

func TestHasLoneSurrogate(t *testing.T) {
	cases := map[string]bool{
		`"plain"`:               false,
		`"\ud83d\ude00"`:        false,
		`"\\ud800"`:             false, // an escaped backslash, then text
		`"\ud800"`:              true,
		`"\udc00"`:              true,
		`"\ud83d x"`:            true,
		`{"k": "a\ud83d"}`:      true,
		`{"k": "\u00e9\u0041"}`: false,
	}
	for in, want := range cases {
		if got := HasLoneSurrogate([]byte(in)); got != want {
			t.Errorf("HasLoneSurrogate(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestDepth(t *testing.T) {
	cases := map[string]int{
		`1`:                    0,
		`{}`:                   1,
		`{"a": [1, {"b": 2}]}`: 3,
		`{"a": "[[[{{{"}`:      1,
		`{"a": "\"[["}`:        1,
		strings.Repeat("[", 40) + strings.Repeat("]", 40): 40,
	}
	for in, want := range cases {
		if got := Depth([]byte(in)); got != want {
			t.Errorf("Depth(%.20s) = %d, want %d", in, got, want)
		}
	}
}
