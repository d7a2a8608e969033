package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, dsn, replica string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, replica)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func incident(fp string, count int64, first time.Time) domain.Incident {
	return domain.Incident{Fingerprint: domain.Fingerprint(fp), Service: "pay", Severity: domain.Error, State: domain.StateNew,
		FirstSeen: first, LastSeen: first.Add(time.Minute), Count: count, Reasons: []domain.Reason{domain.ReasonNewTemplate},
		Templates: []domain.Template{{ID: "t1", Text: "timeout calling <*>", Count: count}}, Samples: []string{"ERROR timeout calling <IP>"},
		Labels: map[string]string{"region": "eu"}, SourceLocation: &domain.SourceLocation{File: "pay.go", Line: 7},
		Timeline: domain.Timeline{first.Unix() / 60: count}}
}

func TestMigratesOnceWhenReplicasStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dsn, fmt.Sprintf("r%d", i))
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// And again: a migrated schema opens as it is.
	open(t, dsn, "r0")
}

func TestSharesFromReplicasAddUpAndResavingReplaces(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn, "a"), open(t, dsn, "b")
	ctx := context.Background()
	if err := a.SaveSeen(ctx, "sub@a", nil, []domain.Incident{incident("fp1", 3, t0)}, []string{"k1", "k2"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveSeen(ctx, "sub@b", nil, []domain.Incident{incident("fp1", 4, t0.Add(-time.Hour))}, []string{"k3"}); err != nil {
		t.Fatal(err)
	}
	// a saves its share again, grown: replaced, not added.
	if err := a.SaveSeen(ctx, "sub@a", nil, []domain.Incident{incident("fp1", 5, t0)}, nil); err != nil {
		t.Fatal(err)
	}
	in, run, err := b.Find(ctx, "fp")
	if err != nil {
		t.Fatal(err)
	}
	if in.Count != 9 || !in.FirstSeen.Equal(t0.Add(-time.Hour)) || in.Templates[0].Count != 9 || in.Labels["region"] != "eu" || in.SourceLocation.Line != 7 ||
		in.Timeline[t0.Unix()/60] != 5 || in.Timeline[t0.Add(-time.Hour).Unix()/60] != 4 {
		t.Errorf("incident %+v", in)
	}
	if run != nil {
		t.Errorf("run %s before any stage", run)
	}
	seen, err := a.Seen(ctx, []string{"k1", "k3", "k9"})
	if err != nil || !seen["k1"] || !seen["k3"] || seen["k9"] {
		t.Errorf("seen %v %v", seen, err)
	}
	if n, err := a.PruneSeen(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("pruned %d %v", n, err)
	}
	counts, err := a.CountByState(ctx)
	if err != nil || counts[domain.StateNew] != 1 {
		t.Errorf("counts %v %v", counts, err)
	}
	ts, mark, err := b.TemplatesSince(ctx, 0)
	if err != nil || len(ts) != 1 || ts[0].ID != "t1" || mark == 0 {
		t.Fatalf("templates %v %d %v", ts, mark, err)
	}
	if ts, _, err := b.TemplatesSince(ctx, mark); err != nil || len(ts) != 0 {
		t.Errorf("templates after the mark %v %v", ts, err)
	}
}

func TestConcurrentSavesOfOneIncidentLoseNothing(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for r := range 3 {
		s := open(t, dsn, fmt.Sprintf("r%d", r))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 20; i++ {
				// Each replica's share grows to 20; both incidents in each
				// save, in opposite orders, to try for a deadlock.
				incs := []domain.Incident{incident("fpA", int64(i), t0), incident("fpB", int64(i), t0)}
				if r%2 == 1 {
					incs[0], incs[1] = incs[1], incs[0]
				}
				if err := s.SaveSeen(ctx, fmt.Sprintf("src@r%d", r), nil, incs, []string{fmt.Sprintf("r%d-%d", r, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s := open(t, dsn, "check")
	for _, fp := range []domain.Fingerprint{"fpA", "fpB"} {
		in, err := s.Incident(ctx, fp)
		if err != nil || in.Count != 60 {
			t.Errorf("%s: %+v %v", fp, in, err)
		}
	}
}

func TestLeaseTakeover(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, b := open(t, dsn, "a"), open(t, dsn, "b")
	a.LeaseTTL, b.LeaseTTL = 300*time.Millisecond, 300*time.Millisecond
	if err := a.Save(ctx, "f", nil, []domain.Incident{incident("fp1", 1, t0)}); err != nil {
		t.Fatal(err)
	}
	in, err := a.Claim(ctx, nil)
	if err != nil || in == nil || in.Fingerprint != "fp1" {
		t.Fatalf("a's claim %v %v", in, err)
	}
	// While a's lease lives, b gets nothing.
	if in, err := b.Claim(ctx, nil); err != nil || in != nil {
		t.Fatalf("b claimed a leased incident: %v %v", in, err)
	}
	if err := a.Renew(ctx, "fp1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Advance(ctx, "fp1", domain.StateTriaged, json.RawMessage(`{"number":1}`)); err != nil {
		t.Fatal(err)
	}
	// a dies: no heartbeat. After the TTL b takes over.
	time.Sleep(400 * time.Millisecond)
	in, err = b.Claim(ctx, nil)
	if err != nil || in == nil || in.State != domain.StateTriaged {
		t.Fatalf("b's takeover %+v %v", in, err)
	}
	if err := a.Advance(ctx, "fp1", domain.StateAnalyzed, json.RawMessage(`{"number":1}`)); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("a's advance after losing the lease: %v", err)
	}
	if err := a.Renew(ctx, "fp1"); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("a's heartbeat after losing the lease: %v", err)
	}
	if _, err := a.BeginDelivery(ctx, "fp1", 1, "k"); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("a's delivery after losing the lease: %v", err)
	}
	if err := b.Advance(ctx, "fp1", domain.StateDelivered, json.RawMessage(`{"number":1}`)); err != nil {
		t.Fatal(err)
	}
	// Terminal: nobody can claim it.
	if in, err := a.Claim(ctx, nil); err != nil || in != nil {
		t.Errorf("claimed a delivered incident: %v %v", in, err)
	}
}

func TestClaimsSkipLockedRowsAndNeverShare(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	seed := open(t, dsn, "seed")
	var incs []domain.Incident
	for i := range 30 {
		incs = append(incs, incident(fmt.Sprintf("fp%02d", i), 1, t0.Add(time.Duration(i)*time.Second)))
	}
	if err := seed.Save(ctx, "f", nil, incs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	owner := map[domain.Fingerprint]string{}
	var wg sync.WaitGroup
	for r := range 3 {
		s := open(t, dsn, fmt.Sprintf("r%d", r))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				in, err := s.Claim(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if in == nil {
					return
				}
				mu.Lock()
				if o, dup := owner[in.Fingerprint]; dup {
					t.Errorf("%s claimed by %s and %s", in.Fingerprint, o, s.Replica())
				}
				owner[in.Fingerprint] = s.Replica()
				mu.Unlock()
				if err := s.Advance(ctx, in.Fingerprint, domain.StateNotActionable, json.RawMessage(`{"number":1}`)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(owner) != 30 {
		t.Errorf("%d of 30 incidents worked", len(owner))
	}
}

func TestOneDeliveryPerRun(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, b := open(t, dsn, "a"), open(t, dsn, "b")
	a.LeaseTTL = 100 * time.Millisecond
	if err := a.Save(ctx, "f", nil, []domain.Incident{incident("fp1", 1, t0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Claim(ctx, nil); err != nil {
		t.Fatal(err)
	}
	done, err := a.BeginDelivery(ctx, "fp1", 1, "key-1")
	if err != nil || done != nil {
		t.Fatalf("begin: %v %v", done, err)
	}
	d := domain.Delivery{Target: "github", Location: "https://github.example/pr/1", Files: []string{"a.go", "b.go"}}
	if err := a.EndDelivery(ctx, "fp1", 1, d); err != nil {
		t.Fatal(err)
	}
	if err := a.EndDelivery(ctx, "fp1", 1, d); err == nil {
		t.Error("a run was recorded delivered twice")
	}
	// a dies before advancing; b takes over and finds the delivery made.
	time.Sleep(150 * time.Millisecond)
	if in, err := b.Claim(ctx, nil); err != nil || in == nil {
		t.Fatalf("takeover %v %v", in, err)
	}
	done, err = b.BeginDelivery(ctx, "fp1", 1, "key-1")
	if err != nil || done == nil || done.Location != d.Location || len(done.Files) != 2 {
		t.Fatalf("b's begin: %+v %v", done, err)
	}
	n, err := b.Deliveries(ctx)
	if err != nil || n["fp1"] != 1 {
		t.Errorf("deliveries %v %v", n, err)
	}
}

func TestAuditChainPerReplicaVerified(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	for _, r := range []string{"r1", "r2", "r3"} {
		s := open(t, dsn, r)
		l, err := s.OpenAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if _, err := l.Append(ctx, audit.Record{Kind: audit.KindModelCall, Outcome: "ok", Fields: map[string]any{"i": i}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A restart continues its chain.
	s := open(t, dsn, "r1")
	l, err := s.OpenAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Append(ctx, audit.Record{Kind: audit.KindStop, Fingerprint: "fp9"})
	if err != nil || rec.Seq != 5 || rec.Replica != "r1" {
		t.Fatalf("continued record %+v %v", rec, err)
	}
	// Every replica's records, or those naming one incident.
	if all, err := s.AuditRecords(ctx); err != nil || len(all) != 13 {
		t.Fatalf("all records: %d %v", len(all), err)
	}
	if of, err := s.AuditRecordsOf(ctx, "fp9"); err != nil || len(of) != 1 || of[0].Kind != audit.KindStop {
		t.Fatalf("records of fp9: %+v %v", of, err)
	}
	res, err := s.VerifyAudit(ctx)
	if err != nil || len(res) != 3 {
		t.Fatalf("verify %v %v", res, err)
	}
	for _, r := range res {
		if r.Err != nil || (r.Replica == "r1" && r.Summary.Records != 5) || (r.Replica != "r1" && r.Summary.Records != 4) {
			t.Errorf("%s: %+v %v", r.Replica, r.Summary, r.Err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tamper := []struct{ name, sql, replica string }{
		{"edited", `UPDATE audit_log SET line = replace(line, '"outcome":"ok"', '"outcome":"no"') WHERE replica = 'r2' AND seq = 2`, "r2"},
		{"removed", `DELETE FROM audit_log WHERE replica = 'r3' AND seq = 2`, "r3"},
		{"cut from the end", `DELETE FROM audit_log WHERE replica = 'r1' AND seq = 5`, "r1"},
	}
	for _, tc := range tamper {
		if _, err := conn.Exec(ctx, tc.sql); err != nil {
			t.Fatal(err)
		}
		res, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Replica == tc.replica && r.Err == nil {
				t.Errorf("%s: replica %s's chain verified", tc.name, r.Replica)
			}
		}
	}
	// Two processes under one name: the second's write is refused.
	x, y := open(t, dsn, "twin"), open(t, dsn, "twin")
	lx, _ := x.OpenAudit(ctx)
	ly, _ := y.OpenAudit(ctx)
	if _, err := lx.Append(ctx, audit.Record{Kind: audit.KindStart}); err != nil {
		t.Fatal(err)
	}
	if _, err := ly.Append(ctx, audit.Record{Kind: audit.KindStart}); err == nil {
		t.Error("a forked chain was written")
	}
}

// replicaSpine is one replica's spine, in shared mode.
func replicaSpine(t *testing.T, shared bool) *ingest.Spine {
	t.Helper()
	m, err := template.New(template.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	d, err := detect.New(detect.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := ingest.New(redact.New(redact.DefaultOptions()), m, d)
	if shared {
		s.Share()
	}
	return s
}

func flush(t *testing.T, st *postgres.Store, sp *ingest.Spine, source string) {
	t.Helper()
	f := sp.TakeShared()
	err := st.SaveShared(context.Background(), source, f.Counts, f.Keys, func(m map[domain.WindowID]detect.Merged) ([]detect.KeyedBaseline, []domain.Incident) {
		return sp.Decide(m), sp.Incidents()
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp.Settle()
}

// A burst of a known (not new) error template, split across three
// replicas so that none sees a burst alone, is found on the merged counts
// as one agent finds it.
func TestBurstSplitAcrossReplicasIsFound(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	const text = "payment gateway unavailable, giving up"
	// The template was first seen two hours before: not new.
	old := []domain.Incident{{Fingerprint: "old", Service: "pay", Severity: domain.Error, FirstSeen: t0.Add(-2 * time.Hour), LastSeen: t0.Add(-2 * time.Hour),
		Count: 1, Templates: []domain.Template{{ID: domain.NewTemplateID(text), Text: text, Count: 1}}}}
	seedStore := open(t, dsn, "seed")
	if err := seedStore.Save(ctx, "history", []domain.Baseline{{Service: "pay", Template: domain.NewTemplateID(text), FirstSeen: t0.Add(-2 * time.Hour)}}, old); err != nil {
		t.Fatal(err)
	}
	events := func(i int) []domain.Event {
		// 12 errors and 20 info lines within 30 s.
		ts := t0.Add(time.Duration(i) * time.Second)
		evs := []domain.Event{{Time: ts, Service: "pay", Severity: domain.Info, Message: "request served"}}
		if i < 12 {
			evs = append(evs, domain.Event{Time: ts, Service: "pay", Severity: domain.Error, Message: text})
		}
		return evs
	}
	// One agent, alone.
	single := replicaSpine(t, false)
	single.Seed(ingest.Learnt{Baselines: []domain.Baseline{{Service: "pay", Template: domain.NewTemplateID(text), FirstSeen: t0.Add(-2 * time.Hour)}},
		Templates: []domain.Template{{ID: domain.NewTemplateID(text), Text: text}}})
	for i := range 20 {
		for _, ev := range events(i) {
			single.Event(ev)
		}
	}
	want := single.Incidents()
	if len(want) != 1 || !contains(want[0].Reasons, domain.ReasonBurst) || contains(want[0].Reasons, domain.ReasonNewTemplate) {
		t.Fatalf("the single agent found %+v", want)
	}
	// Three replicas, round robin; each alone sees 4 errors: no burst.
	var spines []*ingest.Spine
	var stores []*postgres.Store
	learnt, err := ingest.Load(ctx, seedStore)
	if err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		spines = append(spines, replicaSpine(t, true))
		spines[r].Seed(learnt)
		stores = append(stores, open(t, dsn, fmt.Sprintf("r%d", r)))
	}
	for i := range 20 {
		for _, ev := range events(i) {
			spines[i%3].Event(ev)
		}
	}
	for r := range 3 {
		flush(t, stores[r], spines[r], fmt.Sprintf("sub@r%d", r))
	}
	// Replica 0 flushed first, on its own counts only: the later flushes
	// found the burst; replica 0 finds it at its next flush.
	if _, err := stores[0].Incident(ctx, want[0].Fingerprint); err != nil {
		t.Fatalf("the replicas missed the burst: %v", err)
	}
	spines[0].Event(domain.Event{Time: t0.Add(21 * time.Second), Service: "pay", Severity: domain.Error, Message: text})
	flush(t, stores[0], spines[0], "sub@r0")
	got, err := stores[0].Incident(ctx, want[0].Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(got.Reasons, domain.ReasonBurst) || contains(got.Reasons, domain.ReasonNewTemplate) {
		t.Errorf("reasons %v", got.Reasons)
	}
	// The single agent takes in the errors that led up to the burst (all
	// 12); the replicas count each replica's errors from the flush that
	// found it: at least that flush's, never more than the single agent's
	// and the one after.
	if got.Count < 4 || got.Count > want[0].Count+1 {
		t.Errorf("count %d, single agent %d", got.Count, want[0].Count)
	}
	// Each alone: no incident at all.
	lone := replicaSpine(t, false)
	lone.Seed(ingest.Learnt{Baselines: []domain.Baseline{{Service: "pay", Template: domain.NewTemplateID(text), FirstSeen: t0.Add(-2 * time.Hour)}},
		Templates: []domain.Template{{ID: domain.NewTemplateID(text), Text: text}}})
	for i := 0; i < 20; i += 3 {
		for _, ev := range events(i) {
			lone.Event(ev)
		}
	}
	if n := len(lone.Incidents()); n != 0 {
		t.Errorf("a third of the burst alone made %d incidents", n)
	}
}

func contains(rs []domain.Reason, r domain.Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func TestPruneCountsSkipsRowsAFlushHolds(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := open(t, dsn, "a")
	counts := []domain.WindowCount{{Service: "pay", Series: "", Bucket: 10, N: 1}, {Service: "pay", Series: "", Bucket: 20, N: 1}}
	if err := s.SaveShared(ctx, "src", counts, nil, func(map[domain.WindowID]detect.Merged) ([]detect.KeyedBaseline, []domain.Incident) {
		return nil, nil
	}, nil, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE window_counts SET n = n + 1 WHERE bucket = 10`); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if n, err := s.PruneCounts(pctx, 100); err != nil || n != 1 {
		t.Fatalf("prune beside a held row: %d %v", n, err)
	}
	tx.Rollback(ctx)
	if n, err := s.PruneCounts(ctx, 100); err != nil || n != 1 {
		t.Fatalf("prune after: %d %v", n, err)
	}
}

// A template one replica generalised (three user names at one position
// made it "user <*> failed login") is registered in the store; another
// replica that has seen none of those lines takes it in at its next flush,
// and its first line of the kind gets the same id, so both count into one
// incident.
func TestTemplatesRegisteredOnceAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, b := open(t, dsn, "a"), open(t, dsn, "b")
	sa, sb := replicaSpine(t, true), replicaSpine(t, true)
	ev := func(sec int, msg string) domain.Event {
		return domain.Event{Time: t0.Add(time.Duration(sec) * time.Second), Service: "auth", Severity: domain.Error, Message: msg}
	}
	for i, u := range []string{"alice", "bob", "carol", "erin"} {
		sa.Event(ev(i, "user "+u+" failed login"))
	}
	flush(t, a, sa, "sub@a")
	incs := sa.Incidents()
	if len(incs) != 1 || incs[0].Templates[0].Text != "user <*> failed login" {
		t.Fatalf("replica a: %+v", incs)
	}
	// Replica b, alone, would make its own template of dave's line.
	alone := replicaSpine(t, true)
	alone.Event(ev(10, "user dave failed login"))
	if got := alone.Incidents(); len(got) != 0 {
		t.Fatalf("a candidate became an incident before the decision: %+v", got)
	}
	aloneID := alone.TakeShared().Keys[0].Template
	if aloneID == incs[0].Templates[0].ID {
		t.Fatal("the test needs a line that alone makes a template of its own")
	}
	// b flushes (nothing yet), takes in the registry, then sees dave.
	flush(t, b, sb, "sub@b")
	ts, _, err := b.TemplatesSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	sb.RestoreTemplates(ts)
	sb.Event(ev(10, "user dave failed login"))
	flush(t, b, sb, "sub@b")
	got, err := b.Incident(ctx, incs[0].Fingerprint)
	if err != nil {
		t.Fatalf("b's line did not join a's incident: %v", err)
	}
	if got.Count != 5 {
		t.Errorf("the shared incident counts %d events, want 5; b has %+v", got.Count, sb.Incidents())
	}
}
