package tests

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// TestTagUUIDVectors checks TagUUID against every published vector.
func TestTagUUIDVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/uuid_vectors.json")
	must(t, err)
	var file struct {
		Vectors []struct {
			SourceKind     string  `json:"source_kind"`
			SourceID       string  `json:"source_id"`
			RuleID         string  `json:"rule_id"`
			RuleVersion    int32   `json:"rule_version"`
			TechniqueID    string  `json:"technique_id"`
			SubTechniqueID *string `json:"sub_technique_id"`
			UUID           string  `json:"uuid"`
		} `json:"vectors"`
	}
	must(t, json.Unmarshal(raw, &file))
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors read")
	}
	for _, v := range file.Vectors {
		sub := ""
		if v.SubTechniqueID != nil {
			sub = *v.SubTechniqueID
		}
		got := ttprepo.TagUUID(v.SourceKind, v.SourceID, v.RuleID, v.RuleVersion, v.TechniqueID, sub)
		if got != v.UUID {
			t.Errorf("TagUUID(%q, %q, %q, %d, %q, %q) = %s, want %s",
				v.SourceKind, v.SourceID, v.RuleID, v.RuleVersion, v.TechniqueID, sub, got, v.UUID)
		}
	}
}

// TestCorpusUUIDsRecompute checks that every tag id in the corpus is the
// TagUUID of its own fields.
func TestCorpusUUIDsRecompute(t *testing.T) {
	n := 0
	readLines(t, corpusDir+"tags.jsonl", func(line int, b []byte) {
		tag, err := ingest.ParseTagLine(line, b)
		must(t, err, "line", line)
		sub := ""
		if tag.SubTechniqueID != nil {
			sub = *tag.SubTechniqueID
		}
		if got := ttprepo.TagUUID(tag.SourceKind, tag.SourceID, tag.RuleID, tag.RuleVersion, tag.TechniqueID, sub); got != tag.UUID {
			t.Errorf("line %d: TagUUID = %s, corpus says %s", line, got, tag.UUID)
		}
		n++
	})
	if n == 0 {
		t.Fatal("no corpus lines read")
	}
}
