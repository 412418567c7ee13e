package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
		var fe *ttprepo.FleetRecordError
		if !errors.As(err, &ie) || ie.UUID != "a3" || ie.Field != "identity_id" {
			t.Fatalf("bad batch: %v, want an InputError on a3's identity_id", err)
		}
		if !errors.As(err, &fe) || fe.Index != 2 {
			t.Errorf("bad batch: %v, want a FleetRecordError for record 2", err)
		}
		if c, a := countRows(t, s, "campaigns"), countRows(t, s, "attackers"); c != 1 || a != 1 {
			t.Errorf("after the refused batch: %d campaigns, %d attackers; want 1 and 1", c, a)
		}

		for _, odd := range []ttprepo.FleetRecord{
			{Campaign: &ttprepo.Campaign{UUID: "c3"}, Identity: &ttprepo.Identity{UUID: "i3"}},
			{},
		} {
			err := s.UpsertFleet(ctx, []ttprepo.FleetRecord{good[0], odd})
			if !errors.Is(err, ttprepo.ErrInvalidInput) || !errors.As(err, &ie) || !errors.As(err, &fe) || fe.Index != 1 {
				t.Errorf("record %+v: %v, want an InputError for record 1", odd, err)
			}
		}
	})
}

// TestFleetCountsMatchStoreWhenCancelled cancels fleet loads at varying
// moments, on streams with a refused line in every batch (so each batch
// is written again one record at a time): whatever the moment, the
// summary must count exactly the records the store holds.
func TestFleetCountsMatchStoreWhenCancelled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		for try := range 8 {
			var buf bytes.Buffer
			fmt.Fprintf(&buf, `{"kind": "campaign", "uuid": "t%d-c"}`+"\n", try)
			for i := range 6000 {
				if i%500 == 7 {
					fmt.Fprintf(&buf, `{"kind": "identity", "uuid": "t%d-bad-%d", "campaign_id": "no-such-campaign"}`+"\n", try, i)
				}
				fmt.Fprintf(&buf, `{"kind": "identity", "uuid": "t%d-i-%d", "campaign_id": "t%d-c"}`+"\n", try, i, try)
			}
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(time.Duration(10+try*29)*time.Millisecond, cancel)
			sum, err := ingest.Fleet(ctx, s, bytes.NewReader(buf.Bytes()))
			timer.Stop()
			cancel()
			var stored int64
			must(t, s.DB().QueryRow(
				"SELECT (SELECT count(*) FROM campaigns WHERE uuid = ?) + (SELECT count(*) FROM attacker_identities WHERE uuid LIKE ?)",
				fmt.Sprintf("t%d-c", try), fmt.Sprintf("t%d-%%", try)).Scan(&stored))
			if got := sum.Campaigns + sum.Identities; got != stored {
				t.Errorf("try %d (%v): counted %d records, the store holds %d", try, err, got, stored)
			}
			if sum.Lines != sum.Blank+sum.Invalid+sum.Campaigns+sum.Identities+sum.Attackers {
				t.Errorf("try %d: summary does not add up: %+v", try, sum)
			}
		}
	})
}

// TestTwoBadFieldsAlwaysNameTheSame: a record with two bad fields is
// reported by the same field every time.
func TestTwoBadFieldsAlwaysNameTheSame(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		fields := map[string]int{}
		for range 50 {
			err := s.UpsertAttacker(context.Background(), ttprepo.Attacker{UUID: "a", IP: string(bytes.Repeat([]byte("9"), 300)), IdentityID: ptr("")})
			var ie *ttprepo.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("bad attacker: %v, want an InputError", err)
			}
			fields[ie.Field]++
		}
		if len(fields) != 1 {
			t.Errorf("fields named over 50 calls: %v, want one", fields)
		}
	})
}
