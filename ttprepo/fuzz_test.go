package ttprepo_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ttpstore/ttpstore/ttprepo"
)

// fuzzStores opens the stores a fuzz target writes to: a SQLite file, and
// a fresh MySQL database when TTP_TEST_MYSQL_DSN names a server.
func fuzzStores(f *testing.F) []*ttprepo.Store {
	ctx := context.Background()
	open := func(dsn string) *ttprepo.Store {
		s, err := ttprepo.Open(ctx, dsn)
		if err != nil {
			f.Fatalf("open %s: %v", dsn, err)
		}
		f.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(ctx); err != nil {
			f.Fatalf("migrate %s: %v", dsn, err)
		}
		return s
	}
	stores := []*ttprepo.Store{open("sqlite:" + filepath.Join(f.TempDir(), "fuzz.db"))}

	if server := os.Getenv("TTP_TEST_MYSQL_DSN"); server != "" {
		cfg, err := mysql.ParseDSN(server)
		if err != nil {
			f.Fatalf("TTP_TEST_MYSQL_DSN: %v", err)
		}
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			f.Fatal(err)
		}
		var b [6]byte
		rand.Read(b[:])
		name := "ttp_test_fuzz_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
			f.Fatalf("create %s: %v", name, err)
		}
		f.Cleanup(func() {
			admin.Exec("DROP DATABASE IF EXISTS " + name)
			admin.Close()
		})
		cfg.DBName = name
		stores = append(stores, open("mysql://"+cfg.FormatDSN()))
	}
	return stores
}

// optional maps the fuzzer's (present, value) pair to an optional field.
func optional(present bool, v string) *string {
	if !present {
		return nil
	}
	return &v
}

// FuzzValidateTag builds tags from arbitrary field values and checks the
// facade's validation against the databases: a tag ValidateTag accepts is
// accepted by every backend and read back unchanged; a tag it refuses is
// refused by InsertTags with the same field, and nothing is written.
//
// Seeds: testdata/fuzz/FuzzValidateTag.
func FuzzValidateTag(f *testing.F) {
	stores := fuzzStores(f)
	ctx := context.Background()

	f.Add("u1", "session", "src", true, "a1", false, "", true, "s1", true, "d1",
		"TA0006", "T1110", true, "T1110.001", 0.85, "R0003", int32(1),
		[]byte(`{"fail_count": 12}`), "15.1", "https://attack.mitre.org/", int64(1772366400), int64(123456000))

	f.Fuzz(func(t *testing.T, uuid, sourceKind, sourceID string,
		hasAttacker bool, attacker string, hasIdentity bool, identity string,
		hasSession bool, session string, hasDecky bool, decky string,
		tactic, technique string, hasSub bool, sub string,
		confidence float64, ruleID string, ruleVersion int32,
		evidence []byte, release, url string, createdAtSecs, createdAtNanos int64,
	) {
		tag := ttprepo.Tag{
			UUID: uuid, SourceKind: sourceKind, SourceID: sourceID,
			AttackerUUID: optional(hasAttacker, attacker), IdentityUUID: optional(hasIdentity, identity),
			SessionID: optional(hasSession, session), DeckyID: optional(hasDecky, decky),
			Tactic: tactic, TechniqueID: technique, SubTechniqueID: optional(hasSub, sub),
			Confidence: confidence, RuleID: ruleID, RuleVersion: ruleVersion,
			Evidence: json.RawMessage(evidence), AttackRelease: release, MitreURL: url,
		}
		if createdAtSecs != 0 || createdAtNanos != 0 {
			tag.CreatedAt = time.Unix(createdAtSecs, createdAtNanos)
		}
		verr := ttprepo.ValidateTag(0, &tag)

		for _, s := range stores {
			// Start from an empty table, so that an id from an earlier
			// input does not turn this one into a silent duplicate.
			if _, err := s.DB().ExecContext(ctx, "DELETE FROM ttp_tag"); err != nil {
				t.Fatalf("%s: clear: %v", s.Dialect(), err)
			}
			// The anchors exist whenever their own checks allow them, so
			// that an acceptance can only fail for the tag's own fields.
			if tag.IdentityUUID != nil {
				s.UpsertIdentity(ctx, ttprepo.Identity{UUID: *tag.IdentityUUID})
			}
			if tag.AttackerUUID != nil {
				s.UpsertAttacker(ctx, ttprepo.Attacker{UUID: *tag.AttackerUUID, IP: "192.0.2.1"})
			}

			n, err := s.InsertTags(ctx, []ttprepo.Tag{tag})
			count, cerr := s.CountTags(ctx)
			if cerr != nil {
				t.Fatalf("%s: count: %v", s.Dialect(), cerr)
			}
			if verr != nil {
				var want, got *ttprepo.TagError
				errors.As(verr, &want)
				if !errors.As(err, &got) || got.Field != want.Field {
					t.Fatalf("%s: ValidateTag refused (%v) but InsertTags returned %d, %v", s.Dialect(), verr, n, err)
				}
				if count != 0 {
					t.Fatalf("%s: a refused tag left %d rows", s.Dialect(), count)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: ValidateTag accepted %+v but the database refused it: %v", s.Dialect(), tag, err)
			}
			if tag.Confidence < ttprepo.ConfidenceFloor {
				if n != 0 || count != 0 {
					t.Fatalf("%s: a tag below the floor was stored", s.Dialect())
				}
				continue
			}
			if n != 1 || count != 1 {
				t.Fatalf("%s: inserted %d, count %d; want 1, 1", s.Dialect(), n, count)
			}
			got, err := s.GetTag(ctx, tag.UUID)
			if err != nil {
				t.Fatalf("%s: get: %v", s.Dialect(), err)
			}
			want := tag
			if want.CreatedAt.IsZero() {
				want.CreatedAt = got.CreatedAt
			}
			want.CreatedAt = want.CreatedAt.UTC()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: read back changed:\n got  %+v\n want %+v", s.Dialect(), got, want)
			}
		}
	})
}
