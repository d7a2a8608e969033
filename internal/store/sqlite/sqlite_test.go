package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func incident(count int64, samples ...string) domain.Incident {
	return domain.Incident{
		Fingerprint: "fp1", Service: "api", Severity: domain.Error, State: domain.StateNew,
		FirstSeen: t0, LastSeen: t0.Add(time.Duration(count) * time.Minute), Count: count,
		Reasons:   []domain.Reason{domain.ReasonNewTemplate},
		Templates: []domain.Template{{ID: "t1", Text: "disk <*> full", Count: count}},
		Samples:   samples,
		Timeline:  domain.Timeline{t0.Unix() / 60: count},
	}
}

func TestMigrateIsIdempotentAndRefusesNewer(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var v int
	s2.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != len(migrations) {
		t.Errorf("user_version %d, want %d", v, len(migrations))
	}
	s2.db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)+1))
	s2.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Error("a schema newer than the binary was accepted")
	}
}

func TestOddPath(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a dir?x#y", "s 1.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "a", nil, []domain.Incident{incident(1)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %q: %v", path, err)
	}
	var fk int
	s2, _ := Open(ctx, path)
	defer s2.Close()
	s2.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	if fk != 1 {
		t.Error("pragmas not applied")
	}
}

// Besides the contract (contract_test.go): a template's first and last
// sighting span every source's share.
func TestTemplateSeenRange(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.Save(ctx, "a", nil, []domain.Incident{incident(4, "s1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "b", nil, []domain.Incident{incident(2, "s2")}); err != nil {
		t.Fatal(err)
	}
	var first, last string
	s.db.QueryRow(`SELECT first_seen, last_seen FROM templates WHERE id = 't1'`).Scan(&first, &last)
	if parseTS(first) != t0 || parseTS(last) != t0.Add(4*time.Minute) {
		t.Errorf("template seen %s..%s", first, last)
	}
}

// A store kept before the list's columns existed (migration 11) is
// searchable by its incidents' text and runs once opened again.
func TestBackfillListColumns(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if err := s.Save(ctx, "a", nil, []domain.Incident{incident(3, "disk /var full on host-7")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, "fp1", domain.StateTriaged, []byte(`{"number":1,"triage":{"category":"capacity"}}`)); err != nil {
		t.Fatal(err)
	}
	// As a store from before migration 11 has it: the columns empty.
	if _, err := s.db.Exec(`UPDATE incidents SET search = '', category = '', run_search = ''`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, text := range []string{"host-7", "capacity"} {
		p, err := s2.Query(ctx, domain.Query{Text: text})
		if err != nil || p.Matched != 1 || p.Incidents[0].Category != "capacity" {
			t.Errorf("%q after backfill: %+v %v", text, p, err)
		}
	}
}
