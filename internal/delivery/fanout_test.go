package delivery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

type target struct {
	name  string
	err   error
	block chan struct{}
	mu    sync.Mutex
	got   []string
}

func (t *target) Name() string { return t.name }
func (t *target) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	if t.block != nil {
		<-t.block
	}
	t.mu.Lock()
	t.got = append(t.got, p.IdempotencyKey)
	t.mu.Unlock()
	return domain.Delivery{Target: t.name, Location: t.name + "/1"}, t.err
}

// The primary's delivery is the result; a failing secondary is reported,
// not returned, and does not stop the others; every target gets the
// proposal with its idempotency key.
func TestFanOut(t *testing.T) {
	primary := &target{name: "github"}
	broken := &target{name: "chat", err: errors.New("HTTP 500")}
	local := &target{name: "local"}
	var failed []string
	var mu sync.Mutex
	f := FanOut{Targets: []Deliverer{primary, broken, local}, Failed: func(n string, err error) {
		mu.Lock()
		failed = append(failed, n+": "+err.Error())
		mu.Unlock()
	}}
	d, err := f.Deliver(context.Background(), domain.Proposal{IdempotencyKey: "k1"})
	if err != nil || d.Target != "github" || d.Location != "github/1" {
		t.Fatalf("delivery %+v %v", d, err)
	}
	if len(failed) != 1 || failed[0] != "chat: HTTP 500" {
		t.Fatalf("failures %v", failed)
	}
	for _, tg := range []*target{primary, broken, local} {
		if len(tg.got) != 1 || tg.got[0] != "k1" {
			t.Fatalf("%s got %v", tg.name, tg.got)
		}
	}
	if f.Name() != "github+chat+local" {
		t.Fatalf("name %q", f.Name())
	}
	// The primary's failure is the delivery's.
	primary.err = errors.New("rate limited")
	if _, err := f.Deliver(context.Background(), domain.Proposal{}); err == nil {
		t.Fatal("the primary's failure was lost")
	}
}

// A slow secondary runs beside the primary, not after it.
func TestFanOutRunsSideBySide(t *testing.T) {
	slow := &target{name: "slow", block: make(chan struct{})}
	primary := &target{name: "primary"}
	done := make(chan struct{})
	go func() {
		FanOut{Targets: []Deliverer{primary, slow}}.Deliver(context.Background(), domain.Proposal{})
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		primary.mu.Lock()
		n := len(primary.got)
		primary.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the primary waited for a blocked secondary")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(slow.block)
	<-done
}
