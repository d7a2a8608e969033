// Package storetest is the contract every store keeps: the same
// lifecycle, shares, re-opening and message keys, run against SQLite and
// PostgreSQL by their own tests.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store"
)

// Open returns a fresh, empty store whose incidents re-open after
// reopenAfter of quiet; the test closes it.
type Open func(t *testing.T, reopenAfter time.Duration) store.Store

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

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

// Run runs the contract against stores from open.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		f    func(*testing.T, Open)
	}{
		{"SharesBySource", sharesBySource},
		{"BaselinesKeepTheFirstSighting", baselines},
		{"MissingIncident", missing},
		{"LifecycleAndReopen", lifecycle},
		{"ReopenAcrossSources", reopenAcrossSources},
		{"SeenKeysCommitWithTheSave", seenKeys},
		{"TemplatesListed", templates},
		{"SilencesAndNotes", silencesAndNotes},
		{"QueryPagesInTheStore", query},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, open) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sharesBySource(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	must(t, s.Save(ctx, "a", nil, []domain.Incident{incident(3, "s1", "s2")}))
	// The same source again replaces its share.
	must(t, s.Save(ctx, "a", nil, []domain.Incident{incident(4, "s2", "s3")}))
	got, err := s.Incident(ctx, "fp1")
	must(t, err)
	if got.Count != 4 || got.Templates[0].Count != 4 {
		t.Errorf("after re-saving source a: count %d template count %d, want 4", got.Count, got.Templates[0].Count)
	}
	if len(got.Samples) != 3 {
		t.Errorf("samples %v, want the union s1 s2 s3", got.Samples)
	}
	// Another source adds its share.
	must(t, s.Save(ctx, "b", nil, []domain.Incident{incident(2, "s4", "s5", "s6")}))
	got, err = s.Incident(ctx, "fp1")
	must(t, err)
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
}

func baselines(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	b := []domain.Baseline{{Service: "api", Template: "disk <*> full", FirstSeen: t0, PerWindow: 2.5}}
	must(t, s.Save(ctx, "a", b, nil))
	b[0].FirstSeen, b[0].PerWindow = t0.Add(time.Hour), 3 // a later first sighting must not win
	must(t, s.Save(ctx, "a", b, nil))
	got, err := s.Baselines(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("Baselines: %v %v", got, err)
	}
	if !got[0].FirstSeen.Equal(t0) || got[0].PerWindow != 3 {
		t.Errorf("baseline %+v", got[0])
	}
}

func missing(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	if _, err := s.Incident(ctx, "nope"); err == nil {
		t.Error("a missing incident gave no error")
	}
	if _, _, err := s.Find(ctx, "zz"); err == nil {
		t.Error("found a missing incident")
	}
	if err := s.Advance(ctx, "nope", domain.StateFailed, nil); err == nil {
		t.Error("advanced a missing incident")
	}
}

func lifecycle(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	must(t, s.Save(ctx, "a", nil, []domain.Incident{incident(3)}))
	pend, err := s.Pending(ctx, 10)
	if err != nil || len(pend) != 1 || pend[0].State != domain.StateNew {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if run, err := s.LoadRun(ctx, "fp1"); err != nil || run != nil {
		t.Fatalf("fresh run %q %v", run, err)
	}
	must(t, s.Advance(ctx, "fp1", domain.StateTriaged, []byte(`{"number":1}`)))
	must(t, s.Advance(ctx, "fp1", domain.StateDelivered, []byte(`{"number":1,"delivery":{}}`)))
	if pend, _ := s.Pending(ctx, 10); len(pend) != 0 {
		t.Fatalf("delivered incident still pending: %+v", pend)
	}
	// More events without a gap: the same source's share grows, no re-run.
	must(t, s.Save(ctx, "a", nil, []domain.Incident{incident(5)}))
	if in, err := s.Incident(ctx, "fp1"); err != nil || in.State != domain.StateDelivered || in.Count != 5 {
		t.Fatalf("after more events: %+v %v", in, err)
	}
	// A gap of the re-open period, seen by the spine: a new run.
	gap := incident(6)
	gap.ReopenedAt = t0.Add(3 * time.Hour)
	gap.LastSeen = gap.ReopenedAt
	must(t, s.Save(ctx, "a", nil, []domain.Incident{gap}))
	in, run, err := s.Find(ctx, "fp")
	must(t, err)
	if in.State != domain.StateNew || string(run) != `{"number":2}` {
		t.Fatalf("re-opened: state %s run %s", in.State, run)
	}
	counts, err := s.CountByState(ctx)
	if err != nil || counts[domain.StateNew] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
}

func reopenAcrossSources(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	must(t, s.Save(ctx, "a", nil, []domain.Incident{incident(2)}))
	must(t, s.Advance(ctx, "fp1", domain.StateNotActionable, []byte(`{"number":1}`)))
	late := incident(1)
	late.FirstSeen, late.LastSeen = t0.Add(5*time.Hour), t0.Add(5*time.Hour)
	must(t, s.Save(ctx, "b", nil, []domain.Incident{late}))
	if in, err := s.Incident(ctx, "fp1"); err != nil || in.State != domain.StateNew {
		t.Fatalf("a second source after a quiet gap: %+v %v", in, err)
	}
}

func seenKeys(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	must(t, s.SaveSeen(ctx, "pubsub:run1", nil, []domain.Incident{incident(2)}, []string{"le:a|1", "le:a|2"}))
	got, err := s.Seen(ctx, []string{"le:a|1", "le:a|3"})
	if err != nil || !got["le:a|1"] || got["le:a|3"] {
		t.Fatalf("seen %v %v", got, err)
	}
	if in, err := s.Incident(ctx, "fp1"); err != nil || in.Count != 2 {
		t.Fatalf("the incident saved with the keys: %+v %v", in, err)
	}
	if n, err := s.PruneSeen(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if got, _ := s.Seen(ctx, []string{"le:a|1"}); got["le:a|1"] {
		t.Fatal("a pruned key is still seen")
	}
}

func templates(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	must(t, s.Save(ctx, "a", nil, []domain.Incident{incident(3)}))
	ts, err := s.Templates(ctx)
	must(t, err)
	if len(ts) != 1 || ts[0].ID != "t1" || ts[0].Text != "disk <*> full" {
		t.Fatalf("templates %+v", ts)
	}
}

// Pair returns two stores on one fresh database, as two agents (replicas)
// would open it; the test closes them.
type Pair func(t *testing.T) (a, b store.Store)

// RunConversations runs the conversation contract: one holder at a time, the conversation
// kept across claims, a lapsed claim taken over, the loser's release
// refused.
func RunConversations(t *testing.T, pair Pair) {
	ctx := context.Background()
	a, b := pair(t)
	n, ok, err := a.ClaimConversation(ctx, "fp1", "chat", time.Minute)
	must(t, err)
	if !ok || n.Fingerprint != "fp1" || n.Receiver != "chat" || n.Thread != "" || len(n.Done) != 0 {
		t.Fatalf("first claim: %+v %v", n, ok)
	}
	if _, ok, err := b.ClaimConversation(ctx, "fp1", "chat", time.Minute); err != nil || ok {
		t.Fatalf("a second holder claimed a live claim: %v %v", ok, err)
	}
	// Another receiver of the same incident is its own claim.
	if _, ok, err := b.ClaimConversation(ctx, "fp1", "pager", time.Minute); err != nil || !ok {
		t.Fatalf("another receiver: %v %v", ok, err)
	}
	n.Thread = "C1/170.1"
	n.Tell("k-opened")
	n.Sent, n.Last = 1, "opened"
	must(t, a.ReleaseConversation(ctx, n))
	got, ok, err := b.ClaimConversation(ctx, "fp1", "chat", time.Minute)
	must(t, err)
	if !ok || got.Thread != "C1/170.1" || !got.Told("k-opened") || got.Sent != 1 {
		t.Fatalf("after release: %+v %v", got, ok)
	}
	// b's claim lapses; a takes it over and b's release is refused.
	_, _, err = b.ClaimConversation(ctx, "fp1", "chat", -time.Second)
	must(t, err)
	if _, ok, err := a.ClaimConversation(ctx, "fp1", "chat", time.Minute); err != nil || !ok {
		t.Fatalf("a lapsed claim was not taken over: %v %v", ok, err)
	}
	got.Tell("k-from-b")
	if err := b.ReleaseConversation(ctx, got); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("the loser's release: %v", err)
	}
	list, err := b.Conversations(ctx, "fp1")
	must(t, err)
	if len(list) != 2 || list[0].Receiver != "chat" || list[1].Receiver != "pager" || list[0].Told("k-from-b") {
		t.Fatalf("conversations %+v", list)
	}
}

func silencesAndNotes(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	a := domain.Silence{ID: "s1", Matchers: []domain.Matcher{{Name: "service", Value: "checkout"}}, Start: t0, End: t0.Add(time.Hour),
		Author: "alice", Comment: "maintenance", Source: "cli", CreatedAt: t0}
	b := domain.Silence{ID: "s2", Matchers: []domain.Matcher{{Name: "template", Value: "*disk*"}}, Start: t0, Author: "bob", Comment: "known",
		Source: "cli", CreatedAt: t0.Add(time.Minute)}
	must(t, s.SaveSilence(ctx, a))
	must(t, s.SaveSilence(ctx, b))
	if err := s.SaveSilence(ctx, domain.Silence{ID: "s3", CreatedAt: t0}); err == nil {
		t.Error("a silence with no matcher was saved")
	}
	a.ExpiredAt = t0.Add(10 * time.Minute)
	must(t, s.SaveSilence(ctx, a)) // expired: replaced, not added
	got, err := s.Silences(ctx)
	must(t, err)
	if len(got) != 2 || got[0].ID != "s1" || !got[0].ExpiredAt.Equal(a.ExpiredAt) || got[1].Matchers[0].Value != "*disk*" {
		t.Fatalf("silences %+v", got)
	}
	must(t, s.AddNote(ctx, domain.Note{Fingerprint: "fp1", Kind: "acknowledged", Author: "alice", Text: "looking", At: t0}))
	must(t, s.AddNote(ctx, domain.Note{Fingerprint: "fp1", Kind: "resolved", Author: "alice", Text: "pool raised", At: t0.Add(time.Hour)}))
	must(t, s.AddNote(ctx, domain.Note{Fingerprint: "fp2", Kind: "acknowledged", Author: "bob", At: t0}))
	notes, err := s.Notes(ctx, "fp1")
	must(t, err)
	if len(notes) != 2 || notes[0].Kind != "acknowledged" || notes[1].Text != "pool raised" || !notes[1].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("notes %+v", notes)
	}
}
