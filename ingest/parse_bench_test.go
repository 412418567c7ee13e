package ingest

import (
	"bufio"
	"os"
	"testing"
)

// BenchmarkParseTagLine parses fleet-small's tag lines in turn.
func BenchmarkParseTagLine(b *testing.B) {
	f, err := os.Open("../testdata/fleet-small/tags.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if len(lines) == 0 {
		b.Fatal("no lines read")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ParseTagLine(i, lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
