// Package agenttest runs an agent over a message transport in tests: a
// real SQLite store, audit log and quarantine file in a temporary
// directory, and no pipeline (the transport tests count events, not
// proposals).
package agenttest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
	"github.com/cloud-sre-agent/sre-agent/internal/source/quarantine"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

// Rig is the state an agent keeps, in a temporary directory.
type Rig struct {
	Store      *sqlite.Store
	Audit      *audit.Log
	Quarantine string
	Dir        string
}

// New opens a rig; Reopen is what a restarted agent does.
func New(t testing.TB) *Rig {
	t.Helper()
	dir := t.TempDir()
	r := &Rig{Dir: dir, Quarantine: filepath.Join(dir, "quarantine.jsonl")}
	r.Reopen(t)
	return r
}

// Reopen opens the store and audit log again.
func (r *Rig) Reopen(t testing.TB) {
	t.Helper()
	var err error
	if r.Store, err = sqlite.Open(context.Background(), filepath.Join(r.Dir, "s.db")); err != nil {
		t.Fatal(err)
	}
	if r.Audit, err = audit.Open(filepath.Join(r.Dir, "audit.jsonl"), "t"); err != nil {
		t.Fatal(err)
	}
	st, au := r.Store, r.Audit
	t.Cleanup(func() { st.Close(); au.Close() })
}

type nopPipeline struct{}

func (nopPipeline) Drain(context.Context) (int, bool, error) { return 0, false, nil }
func (nopPipeline) Stop()                                    {}

// Agent builds an agent reading recv; dl nil means the rig's quarantine
// file.
func (r *Rig) Agent(t testing.TB, name string, recv source.Receiver, format envelope.Format, dl source.DeadLetter) *agent.Agent {
	t.Helper()
	if dl == nil {
		q, err := quarantine.Open(r.Quarantine)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		dl = q
	}
	c := config.Default()
	d := envelope.DefaultOptions()
	d.Format = format
	d.MaxBytes = 64 << 10
	// Every error is part of an incident from the first (the rate rule at
	// one error, any ratio), so incident counts measure what was saved.
	det := c.Detect
	det.BurstCount, det.BurstRatio, det.MinRise = 1, 0, 0
	ag, err := agent.New(r.Store, nopPipeline{}, r.Audit, []agent.Source{{Name: name, Key: name, Service: name,
		Messages: recv, Decode: d, DeadLetter: dl}},
		agent.Options{Redact: c.Redact, Template: c.Template, Detect: det, ReopenAfter: time.Hour,
			FlushEvery: 200 * time.Millisecond, Poll: 50 * time.Millisecond, ShutdownGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ag
}

// Total is the number of events in every stored incident.
func (r *Rig) Total(t testing.TB) int64 {
	t.Helper()
	all, err := r.Store.Incidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, in := range all {
		n += in.Count
	}
	return n
}

// Run starts an agent; the returned stop cancels it and waits.
func Run(ag *agent.Agent) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// WaitFor polls cond until it holds or d passes.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Entry is a LogEntry as a Cloud Logging sink publishes it: an error of one
// of three templates with insertId i.
func Entry(i int) []byte {
	msgs := []string{"dial tcp 10.0.0.7:5432: connect: connection refused", "upstream request timeout after 3000 ms", "payment declined for order 42 code=51"}
	return EntryWith(i, msgs[i%len(msgs)])
}

// EntryWith is Entry with a given message.
func EntryWith(i int, msg string) []byte {
	return []byte(fmtEntry(i, msg))
}
