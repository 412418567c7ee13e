package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// countRows counts the rows of one anchor table.
func countRows(t *testing.T, s *ttprepo.Store, table string) int {
	t.Helper()
	var n int
	must(t, s.DB().QueryRow("SELECT count(*) FROM "+table).Scan(&n), "count", table)
	return n
}

// TestFleetBatchesKeepBadLinesApart loads a fleet stream long enough for
// several write batches, with refused lines inside the first batch (one
// the store refuses, one that does not parse, one too long for a field)
// and one in the last: every other record must land, and every refused
// line must be listed under its own number, in line order.
func TestFleetBatchesKeepBadLinesApart(t *testing.T) {
	var (
		buf      bytes.Buffer
		line     int
		wantBad  []int
		campaign int
		identity int
		attacker int
	)
	add := func(format string, args ...any) int {
		line++
		fmt.Fprintf(&buf, format+"\n", args...)
		return line
	}
	add(`{"kind": "campaign", "uuid": "c-1"}`)
	campaign++
	for i := range 2500 {
		switch i {
		case 10:
			wantBad = append(wantBad, add(`{"kind": "identity", "uuid": "i-bad", "campaign_id": "no-such-campaign"}`))
		case 20:
			wantBad = append(wantBad, add(`{"kind": "attacker", "uuid": `))
		case 30:
			add(``)
		case 40:
			wantBad = append(wantBad, add(`{"kind": "attacker", "uuid": "a-long", "ip": "%0300d", "identity_id": null}`, 1))
		}
		add(`{"kind": "identity", "uuid": "i-%d", "campaign_id": "c-1"}`, i)
		add(`{"kind": "attacker", "uuid": "a-%d", "ip": "192.0.2.%d", "identity_id": "i-%d"}`, i, i%250, i)
		identity++
		attacker++
	}
	wantBad = append(wantBad, add(`{"kind": "attacker", "uuid": "a-orphan", "ip": "192.0.2.1", "identity_id": "no-such-identity"}`))

	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		sum, err := ingest.Fleet(context.Background(), s, bytes.NewReader(buf.Bytes()))
		must(t, err, "fleet")
		want := ingest.FleetSummary{Lines: int64(line), Blank: 1, Invalid: int64(len(wantBad)),
			Campaigns: int64(campaign), Identities: int64(identity), Attackers: int64(attacker)}
		got := sum
		got.InvalidLines = nil
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("summary %+v, want %+v", got, want)
		}
		var listed []int
		for _, le := range sum.InvalidLines {
			listed = append(listed, le.Line)
		}
		if fmt.Sprint(listed) != fmt.Sprint(wantBad) {
			t.Errorf("invalid lines %v, want %v", listed, wantBad)
		}
		if sum.InvalidLines[0].Field != "campaign_id" || sum.InvalidLines[3].Field != "identity_id" {
			t.Errorf("invalid lines name fields %q and %q, want campaign_id and identity_id",
				sum.InvalidLines[0].Field, sum.InvalidLines[3].Field)
		}
		if c, i, a := countRows(t, s, "campaigns"), countRows(t, s, "attacker_identities"), countRows(t, s, "attackers"); c != campaign || i != identity || a != attacker {
			t.Errorf("stored %d campaigns, %d identities, %d attackers; want %d, %d, %d", c, i, a, campaign, identity, attacker)
		}
	})
}

// TestUpsertFleetAllOrNothing: a record may point to one earlier in the
// same call; a call with one bad record writes none of its records.
func TestUpsertFleetAllOrNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		good := []ttprepo.FleetRecord{
			{Campaign: &ttprepo.Campaign{UUID: "c1"}},
			{Identity: &ttprepo.Identity{UUID: "i1", CampaignID: ptr("c1")}},
			{Attacker: &ttprepo.Attacker{UUID: "a1", IP: "192.0.2.1", IdentityID: ptr("i1")}},
		}
		must(t, s.UpsertFleet(ctx, good))

		bad := []ttprepo.FleetRecord{
			{Campaign: &ttprepo.Campaign{UUID: "c2"}},
			{Attacker: &ttprepo.Attacker{UUID: "a2", IP: "192.0.2.2", IdentityID: ptr("i1")}},
			{Attacker: &ttprepo.Attacker{UUID: "a3", IP: "192.0.2.3", IdentityID: ptr("no-such-identity")}},
		}
		err := s.UpsertFleet(ctx, bad)
		var ie *ttprepo.InputError
		if !errors.As(err, &ie) || ie.UUID != "a3" || ie.Field != "identity_id" {
			t.Fatalf("bad batch: %v, want an InputError on a3's identity_id", err)
		}
		if c, a := countRows(t, s, "campaigns"), countRows(t, s, "attackers"); c != 1 || a != 1 {
			t.Errorf("after the refused batch: %d campaigns, %d attackers; want 1 and 1", c, a)
		}

		twoSet := []ttprepo.FleetRecord{{Campaign: &ttprepo.Campaign{UUID: "c3"}, Identity: &ttprepo.Identity{UUID: "i3"}}}
		if err := s.UpsertFleet(ctx, twoSet); !errors.Is(err, ttprepo.ErrInvalidInput) {
			t.Errorf("record with two kinds set: %v, want ErrInvalidInput", err)
		}
	})
}
