package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

func zzHeld(svc string) func() domain.HeldChanges {
	return func() domain.HeldChanges {
		return domain.HeldChanges{Put: []domain.HeldTemplate{{Service: svc, Template: "t1",
			Events: []domain.Event{{Time: time.Now(), Service: svc, Severity: domain.Error, Message: "boom"}}}}}
	}
}

func zzNone(map[domain.WindowID]detect.Merged) ([]detect.KeyedBaseline, []domain.Incident) { return nil, nil }

// F5: a share name with '|' (a replica named so) is adopted while its
// replica is alive: by itself, and by every other replica.
func TestZZPipeInReplicaName(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(ctx, dsn, "r1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	live := "pubsub:s@pod|a@2026-12-01T09:00:00Z"
	if err := st.SaveShared(ctx, live, nil, nil, zzNone, zzHeld("pay"), nil); err != nil {
		t.Fatal(err)
	}
	// The replica itself, at its next save (adoptOrphans).
	self, err := st.AdoptHeld(ctx, "pubsub:s@", live)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the live replica adopts from itself: %v", keys(self))
	if err := st.SaveShared(ctx, live, nil, nil, zzNone, zzHeld("cart"), nil); err != nil {
		t.Fatal(err)
	}
	other, err := st.AdoptHeld(ctx, "pubsub:s@", "pubsub:s@pod-b@2026-12-01T09:00:01Z")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("another replica adopts the live one's rows: %v", keys(other))
	if len(self) > 0 || len(other) > 0 {
		t.Errorf("a live share was adopted")
	}
}

func keys(m map[string][]domain.HeldTemplate) []string {
	var out []string
	for k, v := range m {
		for _, h := range v {
			out = append(out, k+" "+h.Service)
		}
	}
	return out
}

// F6: a fresh replica adopts (AdoptHeld commits at once) before it has ever
// renewed its own share; until its SaveShared commits, another replica sees
// the adopted rows as a dead share's and adopts them again: both replay
// the same events.
func TestZZAdoptedRowsAdoptedAgain(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(ctx, dsn, "r1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.LeaseTTL = time.Second
	dead := "pubsub:s@pod-a@2026-12-01T09:00:00Z"
	if err := st.SaveShared(ctx, dead, nil, nil, zzNone, zzHeld("pay"), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // pod-a was killed; its lease lapses
	// pod-b is alive and renewing.
	podB := "pubsub:s@pod-b@2026-12-01T09:00:01Z"
	if err := st.RenewShare(ctx, podB); err != nil {
		t.Fatal(err)
	}
	// pod-c replaces pod-a: its first save adopts before any renewal.
	podC := "pubsub:s@pod-c@2026-12-01T09:00:05Z"
	c, err := st.AdoptHeld(ctx, "pubsub:s@", podC)
	if err != nil {
		t.Fatal(err)
	}
	// pod-b's adoptOrphans, before pod-c's SaveShared commits.
	b, err := st.AdoptHeld(ctx, "pubsub:s@", podB)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod-c adopted %v", keys(c))
	t.Logf("pod-b adopted %v", keys(b))
	if len(c) > 0 && len(b) > 0 {
		t.Errorf("the same held events were adopted by two live replicas")
	}
}
