package tests

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// zones are offsets on both sides of UTC, with half and quarter hours.
var zones = []string{"Asia/Kathmandu", "America/St_Johns", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"}

// TestInstantSurvivesTimeZones writes tags at instants given in non-UTC
// zones, with the process's local zone set to each of them in turn, and
// reads back the same instants, to the microsecond, in UTC.
func TestInstantSurvivesTimeZones(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })

	forEachBackend(t, func(t *testing.T, s *ttprepo.Store) {
		ctx := context.Background()
		fleet(t, s)
		for zi, name := range zones {
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Skipf("time zone data: %v", err)
			}
			time.Local = loc

			// Three instants in the zone, one across a DST change for Berlin,
			// each with microseconds; and one zero, filled in by the store.
			first := time.Date(2026, 3, 29, 1, 59, 59, 999999000, loc)
			mid := time.Date(2026, 3, 29, 3, 0, 0, 1000, loc)
			last := time.Date(2026, 10, 25, 2, 30, 0, 500000000, loc)
			session := fmt.Sprintf("tz-%d", zi)
			var tags []ttprepo.Tag
			for i, at := range []time.Time{mid, last, first} {
				tg := tag(fmt.Sprintf("%s-%d", session, i), 0.9, at)
				tg.SessionID = &session
				tags = append(tags, tg)
			}
			now := tag(session+"-now", 0.9, time.Time{})
			now.SessionID = &session
			tags = append(tags, now)

			before := time.Now().Truncate(time.Microsecond)
			_, err = s.InsertTags(ctx, tags)
			must(t, err, "insert in", name)
			after := time.Now()

			for _, tg := range tags[:3] {
				got, err := s.GetTag(ctx, tg.UUID)
				must(t, err, "get")
				if !got.CreatedAt.Equal(tg.CreatedAt) || got.CreatedAt.Location() != time.UTC {
					t.Errorf("%s: wrote %s, read back %s (%s)", name, tg.CreatedAt, got.CreatedAt, got.CreatedAt.Location())
				}
			}
			got, err := s.GetTag(ctx, now.UUID)
			must(t, err, "get now")
			if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
				t.Errorf("%s: zero created_at became %s, want between %s and %s", name, got.CreatedAt, before.UTC(), after.UTC())
			}

			rows, err := s.ListTechniquesBySession(ctx, session)
			must(t, err, "rollup")
			if len(rows) != 1 {
				t.Fatalf("%s: rollup %+v", name, rows)
			}
			if !rows[0].FirstSeen.Equal(first) || rows[0].FirstSeen.Location() != time.UTC {
				t.Errorf("%s: first seen %s, want %s", name, rows[0].FirstSeen, first.UTC())
			}
			if !rows[0].LastSeen.Equal(got.CreatedAt) || rows[0].LastSeen.Location() != time.UTC {
				t.Errorf("%s: last seen %s, want %s", name, rows[0].LastSeen, got.CreatedAt)
			}
			phases, err := s.ListDeckyPhases(ctx, "i1")
			must(t, err, "phases")
			for _, p := range phases {
				if p.CreatedAt.Location() != time.UTC {
					t.Errorf("%s: phase time %s not in UTC", name, p.CreatedAt)
				}
			}
		}
	})
}

// TestMySQLSessionZoneIgnored opens MySQL with a DSN that asks for a
// session zone and a driver location far from UTC: instants must still
// round-trip, because the store forces both to UTC.
func TestMySQLSessionZoneIgnored(t *testing.T) {
	if mysqlServerDSN(t) == "" {
		t.Skip("TTP_TEST_MYSQL_DSN not set")
	}
	ctx := context.Background()
	base := freshMySQL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	dsn := base + sep + "time_zone=" + url.QueryEscape("'+09:00'") + "&loc=" + url.QueryEscape("America/Los_Angeles")
	s := openStore(t, dsn)
	fleet(t, s)

	at := time.Date(2026, 6, 30, 23, 59, 59, 123456000, time.FixedZone("x", -(7*3600+1800)))
	tg := tag("zone", 0.9, at)
	_, err := s.InsertTags(ctx, []ttprepo.Tag{tg})
	must(t, err, "insert")
	got, err := s.GetTag(ctx, tg.UUID)
	must(t, err, "get")
	if !got.CreatedAt.Equal(at) {
		t.Errorf("read back %s, want %s", got.CreatedAt, at.UTC())
	}

	// The stored wall-clock value is the UTC one, so another client in any
	// zone reads the same instant.
	var wall string
	must(t, s.DB().QueryRowContext(ctx, "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') FROM ttp_tag WHERE uuid = ?", tg.UUID).Scan(&wall))
	if want := at.UTC().Format("2006-01-02 15:04:05.000000"); wall != want {
		t.Errorf("stored wall clock %s, want UTC %s", wall, want)
	}
}
