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

func TestSaveBySource(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.Save(ctx, "a", nil, []domain.Incident{incident(3, "s1", "s2")}); err != nil {
		t.Fatal(err)
	}
	// The same source again replaces its share.
	if err := s.Save(ctx, "a", nil, []domain.Incident{incident(4, "s2", "s3")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Incident(ctx, "fp1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 4 || got.Templates[0].Count != 4 {
		t.Errorf("after re-saving source a: count %d template count %d, want 4", got.Count, got.Templates[0].Count)
	}
	if len(got.Samples) != 3 {
		t.Errorf("samples %v, want the union s1 s2 s3", got.Samples)
	}
	// Another source adds its share.
	if err := s.Save(ctx, "b", nil, []domain.Incident{incident(2, "s4", "s5", "s6")}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Incident(ctx, "fp1")
	if got.Count != 6 || got.Templates[0].Count != 6 || len(got.Samples) != domain.MaxSamples {
		t.Errorf("after source b: count %d template %d samples %d", got.Count, got.Templates[0].Count, len(got.Samples))
	}
	if !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("range %s..%s", got.FirstSeen, got.LastSeen)
	}
	// The timeline is counted per source like the totals: 4 from a (its
	// latest share), 2 from b.
	if got.Timeline[t0.Unix()/60] != 6 {
		t.Errorf("timeline %v, want 6 events in the first minute", got.Timeline)
	}
	all, err := s.Incidents(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("Incidents: %v %v", all, err)
	}
	var first, last string
	s.db.QueryRow(`SELECT first_seen, last_seen FROM templates WHERE id = 't1'`).Scan(&first, &last)
	if parseTS(first) != t0 || parseTS(last) != t0.Add(4*time.Minute) {
		t.Errorf("template seen %s..%s", first, last)
	}
}

func TestBaselinesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	b := []domain.Baseline{{Service: "api", Template: "disk <*> full", FirstSeen: t0, PerWindow: 2.5}}
	if err := s.Save(ctx, "a", b, nil); err != nil {
		t.Fatal(err)
	}
	b[0].FirstSeen, b[0].PerWindow = t0.Add(time.Hour), 3 // later first-seen must not win
	if err := s.Save(ctx, "a", b, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Baselines(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("Baselines: %v %v", got, err)
	}
	if !got[0].FirstSeen.Equal(t0) || got[0].PerWindow != 3 {
		t.Errorf("baseline %+v", got[0])
	}
}

func TestMissingIncident(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.Incident(context.Background(), "nope"); err == nil {
		t.Error("missing incident gave no error")
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

func TestLifecycleAndReopen(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	s.ReopenAfter = time.Hour
	if err := s.Save(ctx, "a", nil, []domain.Incident{incident(3)}); err != nil {
		t.Fatal(err)
	}
	pend, err := s.Pending(ctx, 10)
	if err != nil || len(pend) != 1 || pend[0].State != domain.StateNew {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if run, err := s.LoadRun(ctx, "fp1"); err != nil || run != nil {
		t.Fatalf("fresh run %q %v", run, err)
	}
	if err := s.Advance(ctx, "fp1", domain.StateTriaged, []byte(`{"number":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, "fp1", domain.StateDelivered, []byte(`{"number":1,"delivery":{}}`)); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s.Pending(ctx, 10); len(pend) != 0 {
		t.Fatalf("delivered incident still pending: %+v", pend)
	}
	// More events without a gap: the same source's share grows, no re-run.
	more := incident(5)
	if err := s.Save(ctx, "a", nil, []domain.Incident{more}); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.Incident(ctx, "fp1"); in.State != domain.StateDelivered || in.Count != 5 {
		t.Fatalf("after more events: %s count %d", in.State, in.Count)
	}
	// A gap of the re-open period, seen by the spine: a new run.
	gap := incident(6)
	gap.ReopenedAt = t0.Add(3 * time.Hour)
	gap.LastSeen = gap.ReopenedAt
	if err := s.Save(ctx, "a", nil, []domain.Incident{gap}); err != nil {
		t.Fatal(err)
	}
	in, run, err := s.Find(ctx, "fp")
	if err != nil {
		t.Fatal(err)
	}
	if in.State != domain.StateNew || string(run) != `{"number":2}` {
		t.Fatalf("re-opened: state %s run %s", in.State, run)
	}
	counts, err := s.CountByState(ctx)
	if err != nil || counts[domain.StateNew] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
}

func TestReopenAcrossSources(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	s.ReopenAfter = time.Hour
	s.Save(ctx, "a", nil, []domain.Incident{incident(2)})
	s.Advance(ctx, "fp1", domain.StateNotActionable, []byte(`{"number":1}`))
	late := incident(1)
	late.FirstSeen, late.LastSeen = t0.Add(5*time.Hour), t0.Add(5*time.Hour)
	s.Save(ctx, "b", nil, []domain.Incident{late})
	if in, _ := s.Incident(ctx, "fp1"); in.State != domain.StateNew {
		t.Fatalf("a second source after a quiet gap: state %s", in.State)
	}
	if _, _, err := s.Find(ctx, "zz"); err == nil {
		t.Fatal("found a missing incident")
	}
	if err := s.Advance(ctx, "nope", domain.StateFailed, nil); err == nil {
		t.Fatal("advanced a missing incident")
	}
}

func TestSeenKeysCommitWithTheSave(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.SaveSeen(ctx, "pubsub:run1", nil, []domain.Incident{incident(2)}, []string{"le:a|1", "le:a|2"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Seen(ctx, []string{"le:a|1", "le:a|3"})
	if err != nil || !got["le:a|1"] || got["le:a|3"] {
		t.Fatalf("seen %v %v", got, err)
	}
	if n, err := s.PruneSeen(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if got, _ := s.Seen(ctx, []string{"le:a|1"}); got["le:a|1"] {
		t.Fatal("pruned key still seen")
	}
}
