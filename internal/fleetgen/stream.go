package fleetgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// span is how long a stream covers, like fleet-small's nineteen days.
const span = 19 * 24 * time.Hour

// timeLayout is RFC 3339 in UTC with microseconds, as in tags.jsonl.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// StreamStats counts what a written stream holds.
type StreamStats struct {
	Lines      int // lines written
	Replays    int // lines that repeat an earlier line
	BelowFloor int // fresh lines below [ttprepo.ConfidenceFloor]
}

// Stream writes tag lines one at a time. It holds the last few thousand
// lines for replays and nothing else, whatever the stream length.
type Stream struct {
	f      *Fleet
	rng    *rand.Rand
	byKind map[string][]*Rule
	lines  int
	gap    float64 // mean seconds between source events

	now     time.Time
	session struct {
		attacker, left int
		id, decky      string
	}
	pending [][]byte // rows of the current event not yet written
	window  [][]byte // recent fresh lines, a ring
	next    int      // ring position
	stats   StreamStats
	scratch []byte
}

// NewStream prepares the tag stream of cfg over fleet f.
func NewStream(f *Fleet, cfg Config) (*Stream, error) {
	if len(cfg.Rules) == 0 {
		return nil, fmt.Errorf("stream: no rules")
	}
	s := &Stream{
		f:      f,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x74616773)), // "tags"
		byKind: map[string][]*Rule{},
		lines:  cfg.lines(),
		now:    cfg.Start,
	}
	if s.now.IsZero() {
		s.now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		for _, k := range r.AppliesTo {
			s.byKind[k] = append(s.byKind[k], r)
		}
	}
	if len(s.byKind["identity"]) == 0 {
		return nil, fmt.Errorf("stream: no rule applies to identity events")
	}
	// About one and a half rows per event, nine in ten lines fresh.
	events := float64(s.lines) * (1 - replayShare) / 1.5
	s.gap = span.Seconds() / max(events, 1)
	return s, nil
}

// Stats reports what has been written so far.
func (s *Stream) Stats() StreamStats { return s.stats }

// Next returns the next line, without its newline, and false when the
// stream is done. The slice is valid until the next call.
func (s *Stream) Next() ([]byte, bool) {
	if s.stats.Lines >= s.lines {
		return nil, false
	}
	s.stats.Lines++
	if len(s.window) > 0 && s.rng.Float64() < replayShare {
		s.stats.Replays++
		return s.window[s.rng.IntN(len(s.window))], true
	}
	if len(s.pending) == 0 {
		s.event()
	}
	line := s.pending[0]
	s.pending = s.pending[1:]
	// Keep the line for later replays, reusing the evicted slot's memory.
	if len(s.window) < replayWindow {
		s.window = append(s.window, append([]byte(nil), line...))
	} else {
		s.window[s.next] = append(s.window[s.next][:0], line...)
		s.next = (s.next + 1) % replayWindow
	}
	return line, true
}

// WriteTo writes the whole remaining stream as JSON Lines.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var n int64
	for {
		line, ok := s.Next()
		if !ok {
			break
		}
		m, _ := bw.Write(line)
		bw.WriteByte('\n')
		n += int64(m) + 1
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write tags: %w", err)
	}
	return n, nil
}

// event draws one source event and renders its rows into s.pending.
func (s *Stream) event() {
	rng := s.rng
	// Time moves on; one event in ten shares the previous instant, and a
	// few land on a whole second, as clock-less sources report them.
	if rng.Float64() >= 0.1 {
		s.now = s.now.Add(time.Duration(rng.ExpFloat64() * s.gap * float64(time.Second)))
	}
	at := s.now.Truncate(time.Microsecond)
	if rng.Float64() < wholeSecondShare {
		at = at.Truncate(time.Second)
	}

	var (
		kind               string
		attacker, identity *string
		session            *string
		decky              string
	)
	if rng.Float64() < identityKindShare {
		// Seen on an identity: brute force spread over its attackers.
		kind = "identity"
		idx := s.f.idWithAttackers[rng.IntN(len(s.f.idWithAttackers))]
		identity = &s.f.Identities[idx].UUID
		decky = fmt.Sprintf("decky-%02d", 1+rng.IntN(12))
	} else {
		if s.session.left <= 0 {
			s.session.attacker = s.f.pickAttacker(rng)
			s.session.left = 1 + int(rng.ExpFloat64()*(eventsPerSession-1))
			s.session.id = fmt.Sprintf("sess-%016x", rng.Uint64())
			s.session.decky = fmt.Sprintf("decky-%02d", 1+rng.IntN(12))
		}
		s.session.left--
		kind = attackerKinds[rng.IntN(len(attackerKinds))]
		a := &s.f.Attackers[s.session.attacker]
		attacker = &a.UUID
		session = &s.session.id
		decky = s.session.decky
		// Half the tags of an assigned attacker also name its identity;
		// a few name another one (the attacker has moved since).
		if a.IdentityID != nil && rng.Float64() < bothAnchorsShare {
			identity = a.IdentityID
			if rng.Float64() < otherIdentity {
				identity = &s.f.Identities[rng.IntN(len(s.f.Identities))].UUID
			}
		}
	}
	rules := s.byKind[kind]
	if len(rules) == 0 {
		rules = s.byKind["identity"]
		kind = "identity"
	}
	rule := rules[rng.IntN(len(rules))]
	sourceID := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())

	s.pending = s.pending[:0]
	for i := range rule.Emits {
		e := &rule.Emits[i]
		conf := confidence(rng, e.Confidence)
		if conf < ttprepo.ConfidenceFloor {
			s.stats.BelowFloor++
		}
		var d *string
		if rng.Float64() >= noDeckyShare {
			d = &decky
		}
		s.pending = append(s.pending, s.render(kind, sourceID, attacker, identity, session, d, rule, e, conf, at))
	}
}

func (s *Stream) render(kind, sourceID string, attacker, identity, session, decky *string, r *Rule, e *Emit, conf float64, at time.Time) []byte {
	sub := ""
	if e.SubTechniqueID != nil {
		sub = *e.SubTechniqueID
	}
	b := make([]byte, 0, 640)
	b = append(b, `{"uuid": `...)
	b = appendString(b, ttprepo.TagUUID(kind, sourceID, r.RuleID, r.RuleVersion, e.TechniqueID, sub))
	b = append(b, `, "source_kind": `...)
	b = appendString(b, kind)
	b = append(b, `, "source_id": `...)
	b = appendString(b, sourceID)
	b = append(b, `, "attacker_uuid": `...)
	b = appendOptString(b, attacker)
	b = append(b, `, "identity_uuid": `...)
	b = appendOptString(b, identity)
	b = append(b, `, "session_id": `...)
	b = appendOptString(b, session)
	b = append(b, `, "decky_id": `...)
	b = appendOptString(b, decky)
	b = append(b, `, "tactic": `...)
	b = appendString(b, e.Tactic)
	b = append(b, `, "technique_id": `...)
	b = appendString(b, e.TechniqueID)
	b = append(b, `, "sub_technique_id": `...)
	b = appendOptString(b, e.SubTechniqueID)
	b = append(b, `, "confidence": `...)
	b = strconv.AppendFloat(b, conf, 'f', -1, 64)
	if conf == float64(int64(conf)) {
		b = append(b, ".0"...)
	}
	b = append(b, `, "rule_id": `...)
	b = appendString(b, r.RuleID)
	b = append(b, `, "rule_version": `...)
	b = strconv.AppendInt(b, int64(r.RuleVersion), 10)
	b = append(b, `, "evidence": `...)
	b = appendEvidence(b, s.rng, kind)
	b = append(b, `, "attack_release": "15.1", "mitre_url": `...)
	url := "https://attack.mitre.org/techniques/" + e.TechniqueID + "/"
	if sub != "" && len(sub) > len(e.TechniqueID)+1 {
		url += sub[len(e.TechniqueID)+1:] + "/"
	}
	b = appendString(b, url)
	b = append(b, `, "created_at": `...)
	b = appendString(b, at.UTC().Format(timeLayout))
	return append(b, '}')
}

// Generate writes fleet.jsonl to fleetOut and tags.jsonl to tagsOut.
func Generate(cfg Config, fleetOut, tagsOut io.Writer) (StreamStats, error) {
	f, err := NewFleet(cfg)
	if err != nil {
		return StreamStats{}, err
	}
	if err := f.WriteJSONL(fleetOut); err != nil {
		return StreamStats{}, err
	}
	s, err := NewStream(f, cfg)
	if err != nil {
		return StreamStats{}, err
	}
	if _, err := s.WriteTo(tagsOut); err != nil {
		return s.Stats(), err
	}
	return s.Stats(), nil
}
