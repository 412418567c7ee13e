package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"path"
	"sync"
	"testing"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// loadStored loads fleet-small into s and returns the tags the store
// keeps: each id once (its first line), confidence at the floor or above.
func loadStored(t testing.TB, s *ttprepo.Store) []ttprepo.Tag {
	t.Helper()
	tags := loadCorpus(t, s)
	_, err := s.InsertTags(context.Background(), tags)
	must(t, err, "insert corpus")
	seen := map[string]bool{}
	var kept []ttprepo.Tag
	for _, tg := range tags {
		if seen[tg.UUID] || tg.Confidence < ttprepo.ConfidenceFloor {
			continue
		}
		seen[tg.UUID] = true
		kept = append(kept, tg)
	}
	return kept
}

// sameAnswers collects one value per backend and, once both legs ran,
// checks that SQLite and MySQL gave the same JSON.
type sameAnswers struct {
	mu  sync.Mutex
	got map[string][]byte
}

func (a *sameAnswers) record(t *testing.T, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	must(t, err, "marshal answer")
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.got == nil {
		a.got = map[string][]byte{}
	}
	a.got[path.Base(t.Name())] = raw
}

func (a *sameAnswers) check(t *testing.T) {
	t.Helper()
	lite, ok1 := a.got["sqlite"]
	my, ok2 := a.got["mysql"]
	if !ok1 || !ok2 {
		return
	}
	if !bytes.Equal(lite, my) {
		t.Errorf("sqlite and mysql answers differ:\nsqlite: %.600s\nmysql:  %.600s", lite, my)
	}
}
