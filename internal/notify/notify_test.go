package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

// recorder is a receiver that keeps what it was sent; its thread is the
// incident's first message.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []delivery.Notification
	fail error
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(_ context.Context, n delivery.Notification, thread string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return thread, r.fail
	}
	r.got = append(r.got, n)
	if thread == "" {
		thread = "thread-of-" + string(n.Incident.Fingerprint)
	}
	return thread, nil
}

func (r *recorder) transitions(fp domain.Fingerprint) []delivery.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery.Transition
	for _, n := range r.got {
		if n.Incident.Fingerprint == fp {
			out = append(out, n.Transition)
		}
	}
	return out
}

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func openStore(t *testing.T, path string) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func save(t *testing.T, s store.Store, fp domain.Fingerprint, sev domain.Severity, ended bool) {
	in := domain.Incident{Fingerprint: fp, Service: "checkout", Severity: sev, State: domain.StateNew, FirstSeen: t0, LastSeen: t0.Add(time.Minute),
		Count: 5, Templates: []domain.Template{{ID: domain.TemplateID("t" + string(fp)), Text: "pool exhausted", Count: 5}},
		Episodes: []domain.Episode{{Start: t0, Count: 5}}}
	if ended {
		in.Episodes[0].End = t0.Add(time.Minute)
	}
	if err := s.Save(context.Background(), "file:a", nil, []domain.Incident{in}); err != nil {
		t.Fatal(err)
	}
}

func advance(t *testing.T, s store.Store, fp domain.Fingerprint, st domain.State, run domain.Run) {
	b, _ := json.Marshal(run)
	if err := s.Advance(context.Background(), fp, st, b); err != nil {
		t.Fatal(err)
	}
}

func tree(t *testing.T, r config.Route) *Tree {
	tr, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func dispatcher(t *testing.T, s Store, tr *Tree, aud audit.Appender, rs ...Receiver) *Dispatcher {
	d, err := New(Options{Store: s, Tree: tr, Receivers: rs, Audit: aud, DashboardURL: "https://sre.example"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func auditLog(t *testing.T, dir string) (*audit.Log, string) {
	path := filepath.Join(dir, "audit.jsonl")
	l, err := audit.Open(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// One conversation per incident and receiver: changes seen together are
// one message, later changes are told once each, a resolution goes to the
// receivers told the opening, and neither a second pass nor a restarted
// dispatcher tells anything twice. Every message is audited.
func TestOneConversationAndNothingTwice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "s.db"))
	aud, auditPath := auditLog(t, dir)
	chat, pager := &recorder{name: "chat"}, &recorder{name: "pager"}
	// Page only critical openings and re-openings; chat gets everything.
	tr := tree(t, config.Route{Receiver: "chat", Routes: []config.Route{
		{Receiver: "pager", Match: config.Match{Severities: []string{"critical"}, Transitions: []string{"opened", "reopened"}}, Continue: true},
		{Receiver: "chat"},
	}})
	d := dispatcher(t, s, tr, aud, Receiver{Notifier: chat}, Receiver{Notifier: pager})

	save(t, s, "crit", domain.Critical, false)
	save(t, s, "err", domain.Error, false)
	advance(t, s, "crit", domain.StateTriaged, domain.Run{Number: 1, Triage: &domain.Triage{Category: "dependency", Actionable: true}})
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// The opening carries the triage seen with it: one message, not two.
	if got := chat.transitions("crit"); len(got) != 1 || got[0] != delivery.Opened || chat.got[0].Run.Triage == nil {
		t.Fatalf("chat about crit: %v", got)
	}
	if got := pager.transitions("crit"); len(got) != 1 || got[0] != delivery.Opened {
		t.Fatalf("pager about crit: %v", got)
	}
	if got := pager.transitions("err"); len(got) != 0 {
		t.Fatalf("an ERROR incident paged: %v", got)
	}
	if chat.got[0].DashboardURL != "https://sre.example/incidents/crit" {
		t.Fatalf("dashboard link %q", chat.got[0].DashboardURL)
	}
	// Root cause and the PR, then the resolution.
	advance(t, s, "crit", domain.StateDelivered, domain.Run{Number: 1, Triage: &domain.Triage{Category: "dependency"},
		Analysis: &domain.Analysis{RootCause: "pool too small"}, Delivery: &domain.Delivery{Location: "https://github.com/a/b/pull/1"}})
	d.Changed("crit")
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	save(t, s, "crit", domain.Critical, true)
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := chat.transitions("crit"); len(got) != 3 || got[1] != delivery.Proposed || got[2] != delivery.Resolved {
		t.Fatalf("chat about crit: %v", got)
	}
	if got := pager.transitions("crit"); len(got) != 2 || got[1] != delivery.Resolved {
		t.Fatalf("pager about crit: %v (the resolution goes where the opening went)", got)
	}
	before := len(chat.got) + len(pager.got)
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// A restart: a new dispatcher on a new handle to the same store.
	d2 := dispatcher(t, openStore(t, filepath.Join(dir, "s.db")), tr, aud, Receiver{Notifier: chat}, Receiver{Notifier: pager})
	if err := d2.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if after := len(chat.got) + len(pager.got); after != before {
		t.Fatalf("told %d more after nothing changed", after-before)
	}
	for _, n := range chat.got {
		if n.Incident.Fingerprint == "crit" && n.Transition == delivery.Proposed && n.Key == "" {
			t.Fatal("no idempotency key")
		}
	}
	convs, err := s.Conversations(ctx, "crit")
	if err != nil || len(convs) != 2 || convs[0].Thread != "thread-of-crit" || convs[0].Sent != 3 || convs[0].Last != "resolved" {
		t.Fatalf("conversations %+v %v", convs, err)
	}
	recs, err := audit.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	n := audit.Count(recs, audit.KindNotification, "sent")
	if n != before {
		t.Fatalf("%d notifications audited, %d sent", n, before)
	}
}

// A failing receiver holds up no other; it is retried after a backoff,
// and what changed meanwhile is told in one message.
func TestAFailingReceiverHoldsUpNoOther(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "s.db"))
	aud, _ := auditLog(t, dir)
	good, bad := &recorder{name: "good"}, &recorder{name: "bad", fail: errors.New("503 from https://hooks.example/T/B/secretpart xoxb-1111-2222-abcdefghijkl")}
	tr := tree(t, config.Route{Receiver: "good", Routes: []config.Route{{Receiver: "bad", Continue: true}, {Receiver: "good"}}})
	now := t0
	d, err := New(Options{Store: s, Tree: tr, Receivers: []Receiver{{Notifier: good}, {Notifier: bad}}, Audit: aud,
		Redactor: redactor{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	save(t, s, "fp", domain.Error, false)
	if err := d.Pass(ctx, nil); err == nil {
		t.Fatal("the failure was not reported")
	}
	if len(good.got) != 1 {
		t.Fatalf("good got %d", len(good.got))
	}
	convs, _ := s.Conversations(ctx, "fp")
	if convs[0].Receiver != "bad" || convs[0].Failures != 1 || !convs[0].RetryAt.After(now) || convs[0].Error == "" {
		t.Fatalf("bad's conversation %+v", convs[0])
	}
	bad.fail = nil
	advance(t, s, "fp", domain.StateTriaged, domain.Run{Number: 1, Triage: &domain.Triage{Category: "config"}})
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if len(bad.got) != 0 {
		t.Fatal("retried before its time")
	}
	now = now.Add(time.Hour)
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := bad.transitions("fp"); len(got) != 1 || got[0] != delivery.Opened || bad.got[0].Run.Triage == nil {
		t.Fatalf("bad after the retry: %v", got)
	}
	if got := good.transitions("fp"); len(got) != 2 || got[1] != delivery.Triaged {
		t.Fatalf("good: %v", got)
	}
}

type redactor struct{}

func (redactor) Redact(s string) string { return "[redacted error]" }

// A receiver's rate limit holds what is over it; quiet hours hold a
// route's changes until they end, except the severities they let through.
func TestRateLimitAndQuietHours(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "s.db"))
	aud, _ := auditLog(t, dir)
	limited, night := &recorder{name: "limited"}, &recorder{name: "night"}
	tr := tree(t, config.Route{Receiver: "limited", Routes: []config.Route{{Receiver: "night", Continue: true,
		QuietHours: &config.QuietHours{Start: "22:00", End: "07:00", TimeZone: "UTC", Except: []string{"critical"}}}, {}}})
	now := time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC)
	d, err := New(Options{Store: s, Tree: tr, Receivers: []Receiver{{Notifier: limited, RateLimit: 1}, {Notifier: night}}, Audit: aud,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	save(t, s, "a", domain.Error, false)
	save(t, s, "b", domain.Critical, false)
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if len(limited.got) != 1 {
		t.Fatalf("limited got %d, want 1 within its hourly rate", len(limited.got))
	}
	if got := night.transitions("b"); len(got) != 1 {
		t.Fatalf("a critical incident was held by quiet hours: %v", got)
	}
	if got := night.transitions("a"); len(got) != 0 {
		t.Fatalf("told in quiet hours: %v", got)
	}
	now = time.Date(2026, 12, 3, 7, 1, 0, 0, time.UTC)
	if err := d.Pass(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if len(limited.got) != 2 || len(night.transitions("a")) != 1 {
		t.Fatalf("after the hour and the night: limited %d, night %d", len(limited.got), len(night.got))
	}
}

// Two agents on one SQLite file, passing at the same time, tell each
// change once between them.
func TestTwoAgentsTellOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	tellOnce(t, func() store.Store { return openStore(t, path) })
}

// Two replicas sharing PostgreSQL tell each change once between them.
func TestTwoReplicasTellOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	n := 0
	tellOnce(t, func() store.Store {
		n++
		s, err := postgres.Open(context.Background(), dsn, fmt.Sprintf("r%d", n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func tellOnce(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := open()
	aud, _ := auditLog(t, t.TempDir())
	chat := &recorder{name: "chat"}
	tr := tree(t, config.Route{Receiver: "chat"})
	var fps []domain.Fingerprint
	for i := range 40 {
		fps = append(fps, domain.Fingerprint(fmt.Sprintf("fp%02d", i)))
		save(t, s, fps[i], domain.Error, false)
	}
	var ds []*Dispatcher
	for range 2 {
		ds = append(ds, dispatcher(t, open(), tr, aud, Receiver{Notifier: chat}))
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() { defer wg.Done(); d.Pass(ctx, nil) }()
	}
	wg.Wait()
	for _, d := range ds {
		if err := d.Pass(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(chat.got) != len(fps) {
		t.Fatalf("%d messages for %d incidents", len(chat.got), len(fps))
	}
	for _, fp := range fps {
		if n := len(chat.transitions(fp)); n != 1 {
			t.Fatalf("%s told %d times", fp, n)
		}
	}
}

// BenchmarkPass: one pass over 1,000 stored incidents and three
// receivers. "first" tells every incident (claims, sends to a no-op
// receiver, records, audit); "steady" is a later pass with nothing due.
func BenchmarkPass(b *testing.B) {
	for _, mode := range []string{"first", "steady"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			s, err := sqlite.Open(ctx, filepath.Join(dir, "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var ins []domain.Incident
			for i := range 1000 {
				fp := domain.Fingerprint(fmt.Sprintf("fp%04d", i))
				ins = append(ins, domain.Incident{Fingerprint: fp, Service: "checkout", Severity: domain.Error, State: domain.StateNew, FirstSeen: t0, LastSeen: t0,
					Count: 1, Templates: []domain.Template{{ID: domain.TemplateID(fp), Text: "x", Count: 1}}, Episodes: []domain.Episode{{Start: t0, Count: 1}}})
			}
			if err := s.Save(ctx, "a", nil, ins); err != nil {
				b.Fatal(err)
			}
			aud, err := audit.Open(filepath.Join(dir, "audit.jsonl"), "r1")
			if err != nil {
				b.Fatal(err)
			}
			defer aud.Close()
			tr, _ := Compile(config.Route{Receiver: "a", Routes: []config.Route{{Receiver: "b", Continue: true}, {Receiver: "c", Continue: true}, {Receiver: "a"}}})
			rs := []Receiver{{Notifier: &recorder{name: "a"}}, {Notifier: &recorder{name: "b"}}, {Notifier: &recorder{name: "c"}}}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				d, _ := New(Options{Store: s, Tree: tr, Receivers: rs, Audit: aud})
				if mode == "steady" {
					d.Pass(ctx, nil)
				} else {
					s.Close()
					os.Remove(filepath.Join(dir, "s.db"))
					s, _ = sqlite.Open(ctx, filepath.Join(dir, "s.db"))
					s.Save(ctx, "a", nil, ins)
					d, _ = New(Options{Store: s, Tree: tr, Receivers: rs, Audit: aud})
				}
				b.StartTimer()
				if err := d.Pass(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A silenced incident is told nothing until its silence ends.
func TestSilencedIsNotTold(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "s.db"))
	aud, _ := auditLog(t, dir)
	chat := &recorder{name: "chat"}
	d := dispatcher(t, s, tree(t, config.Route{Receiver: "chat"}), aud, Receiver{Notifier: chat})
	save(t, s, "quiet", domain.Critical, false)
	advance(t, s, "quiet", domain.StateSilenced, domain.Run{Number: 1, Silenced: &domain.Silenced{ID: "s1", From: domain.StateNew}})
	if err := d.Pass(ctx, nil); err != nil || len(chat.got) != 0 {
		t.Fatalf("told a silenced incident: %d %v", len(chat.got), err)
	}
	advance(t, s, "quiet", domain.StateNew, domain.Run{Number: 1})
	if err := d.Pass(ctx, nil); err != nil || len(chat.got) != 1 {
		t.Fatalf("after the silence: %d %v", len(chat.got), err)
	}
}
