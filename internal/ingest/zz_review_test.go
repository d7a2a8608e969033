package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
)

// F1: a template merged in the miner (siblings) leaves its old held row in
// the store: the same event is in two rows, and a restart replays it twice.
func siblingStream() []domain.Event {
	var evs []domain.Event
	names := []string{"alice", "bob", "carol"}
	for i := 0; i < 120; i++ { // 20 minutes of traffic, one line every 10s
		at := time.Duration(i) * 10 * time.Second
		evs = append(evs, ev(at, "auth", domain.Info, "GET /health 200"))
		if i >= 25 && i <= 27 {
			evs = append(evs, ev(at+time.Second, "auth", domain.Error, "login failed for user "+names[i-25]+" at gateway"))
		}
		if i >= 31 && i < 51 { // a burst after the warm-up
			for j := 0; j < 5; j++ {
				evs = append(evs, ev(at+time.Duration(j+2)*time.Second, "auth", domain.Error, fmt.Sprintf("login failed for user x%d at gateway", i*10+j)))
			}
		}
	}
	return evs
}

func TestZZSiblingHeldRowDuplicated(t *testing.T) {
	cfg := detect.DefaultConfig()
	evs := siblingStream()
	// The held table after the first few events, one commit per event.
	st := newShareStore()
	s := spineWith(t, cfg)
	s.SaveHeld()
	for i := 0; i < 32; i++ {
		s.Event(evs[i])
		st.commit("run1", s, nil)
	}
	for k, r := range st.held["run1"] {
		var msgs []string
		for _, e := range r.Events {
			msgs = append(msgs, e.Message)
		}
		t.Logf("held row %s/%s: %q", k.Service, k.Template, msgs)
	}
	want := runCrashing(t, cfg, evs, 1, nil)
	// Kill once the burst opened the incident.
	got := runCrashing(t, cfg, evs, 1, []int{len(evs) - 50})
	t.Logf("no crash: %v", want)
	t.Logf("crash:    %v", got)
	for fp, n := range want {
		if got[fp] != n {
			t.Errorf("incident %s counts %d after a crash, %d without", fp.Short(), got[fp], n)
		}
	}
}

// apply writes h to a fake held table of one share.
func applyHeld(rows map[domain.HeldKey]domain.HeldTemplate, h domain.HeldChanges) {
	for _, g := range h.Gone {
		delete(rows, g)
	}
	for _, p := range h.Put {
		rows[domain.HeldKey{Service: p.Service, Template: p.Template}] = p
	}
}

// sharedFlush is saveShared's order: decide, HeldChanges (in the tx),
// commit, Settle, HeldSaved.
func sharedFlush(s *Spine, rows map[domain.HeldKey]domain.HeldTemplate, merged map[domain.WindowID]detect.Merged) {
	s.TakeShared()
	s.Decide(merged)
	applyHeld(rows, s.HeldChanges())
	s.Settle()
	s.HeldSaved()
}

// F2: Settle ages held templates out after the commit; HeldSaved then
// forgets that they changed, so their rows are never deleted.
func TestZZSettleGoneLost(t *testing.T) {
	s := spineWith(t, detect.DefaultConfig())
	s.Share()
	s.SaveHeld()
	rows := map[domain.HeldKey]domain.HeldTemplate{}
	s.Event(ev(0, "pay", domain.Error, "card declined by issuer"))
	sharedFlush(s, rows, nil)
	s.Event(ev(6*time.Minute, "pay", domain.Error, "ledger write timed out"))
	sharedFlush(s, rows, nil) // Settle ages the first template out here
	s.Event(ev(7*time.Minute, "pay", domain.Error, "ledger write timed out"))
	sharedFlush(s, rows, nil)
	s.Event(ev(13*time.Minute, "pay", domain.Info, "ok"))
	sharedFlush(s, rows, nil)
	t.Logf("templates held in memory: %d; rows in the store: %d", len(s.pending), len(rows))
	for k, r := range rows {
		t.Logf("row %s/%s: %d events", k.Service, k.Template, len(r.Events))
	}
	if len(rows) != len(s.pending) {
		t.Errorf("the store keeps %d held rows, the spine holds %d templates", len(rows), len(s.pending))
	}
	// A replica that adopts the share replays them; the template's
	// incident exists in the store (Open): the aged-out event is counted.
	var adopt []domain.HeldTemplate
	for _, r := range rows {
		adopt = append(adopt, r)
	}
	a := spineWith(t, detect.DefaultConfig())
	a.Share()
	a.SaveHeld()
	a.Adopt(adopt)
	f := a.TakeShared()
	merged := map[domain.WindowID]detect.Merged{}
	for _, k := range f.Keys {
		merged[domain.WindowID{Service: k.Service, Template: k.Template}] = detect.Merged{Open: true}
	}
	a.Decide(merged)
	for _, in := range a.Incidents() {
		t.Logf("adopter counts %d events of %q (aged out, never counted, in the run without a crash)", in.Count, in.Templates[0].Text)
	}
}

// F3: activeServices is cleared by Baselines, which shared detection never calls.
func TestZZActiveServicesGrowShared(t *testing.T) {
	s := spineWith(t, detect.DefaultConfig())
	s.Share()
	s.SaveHeld()
	rows := map[domain.HeldKey]domain.HeldTemplate{}
	for i := 0; i < 50000; i++ {
		s.Event(ev(time.Duration(i)*time.Millisecond, fmt.Sprintf("svc-%d", i), domain.Info, "ok"))
		if i%1000 == 0 {
			sharedFlush(s, rows, nil)
		}
	}
	t.Logf("activeServices after 50 flushes: %d", len(s.activeServices))
	if len(s.activeServices) > 1000 {
		t.Errorf("activeServices grows without bound under shared detection: %d", len(s.activeServices))
	}
}

// F4: a row's Dropped is lost when its replayed events fold into a summary.
func TestZZAdoptDroppedLostInSummary(t *testing.T) {
	cfg := detect.DefaultConfig()
	s := spineWith(t, cfg)
	s.SaveHeld()
	msg := "quota exceeded for bucket"
	c := s.miner.Add(msg)
	id, text := c.ID(), c.Template()
	s = spineWith(t, cfg)
	s.SaveHeld()
	s.Seed(Learnt{Templates: []domain.Template{{ID: id, Text: text}}, Incidents: []domain.Incident{{
		Fingerprint: domain.NewFingerprint("store", domain.OverLimitTemplate), Service: "store", Reasons: []domain.Reason{domain.ReasonOverLimit},
		Templates: []domain.Template{{ID: id, Text: text, Count: 5}}, Count: 5, FirstSeen: crashT0, LastSeen: crashT0.Add(time.Minute)}}})
	row := domain.HeldTemplate{Service: "store", Template: id, Dropped: 10}
	for i := 0; i < pendingMax; i++ {
		row.Events = append(row.Events, ev(2*time.Minute+time.Duration(i)*time.Second, "store", domain.Error, msg))
	}
	s.Adopt([]domain.HeldTemplate{row})
	var n int64
	for _, in := range s.Incidents() {
		n += in.Count
	}
	t.Logf("row: %d events + %d dropped; counted after adoption: %d", len(row.Events), row.Dropped, n)
	if n != int64(len(row.Events))+row.Dropped {
		t.Errorf("adoption lost %d acknowledged events", int64(len(row.Events))+row.Dropped-n)
	}
}

// F7: under shared detection a fatal event opens the incident without the
// template's held events (a single spine takes them in); they stay held,
// are never decided again, and age out.
func TestZZSharedFatalOrphansHeld(t *testing.T) {
	for _, shared := range []bool{false, true} {
		s := spineWith(t, detect.DefaultConfig())
		if shared {
			s.Share()
		}
		s.SaveHeld()
		rows := map[domain.HeldKey]domain.HeldTemplate{}
		for i := 0; i < 3; i++ {
			s.Event(ev(time.Duration(i)*time.Second, "jobs", domain.Error, "worker job failed"))
		}
		if shared {
			sharedFlush(s, rows, nil)
		}
		f := ev(5*time.Second, "jobs", domain.Error, "worker job failed")
		f.Stack = "panic: assignment to entry in nil map\ngoroutine 1 [running]:"
		s.Event(f)
		if shared {
			fl := s.TakeShared()
			m := map[domain.WindowID]detect.Merged{}
			for _, k := range fl.Keys {
				m[domain.WindowID{Service: k.Service, Template: k.Template}] = detect.Merged{Open: true}
			}
			s.Decide(m)
			applyHeld(rows, s.HeldChanges())
			s.Settle()
			s.HeldSaved()
		}
		for _, in := range s.Incidents() {
			t.Logf("shared=%v: incident counts %d of 4 events; still held: %d templates", shared, in.Count, len(s.pending))
		}
	}
}

// F1b: the merge comes from another service's line: the merged template's row is
// deleted (Gone under its old id) and rewritten under no id: its held,
// acknowledged events are in no row.
func TestZZSiblingMergeByWarningLosesRow(t *testing.T) {
	s := spineWith(t, detect.DefaultConfig())
	s.SaveHeld()
	rows := map[domain.HeldKey]domain.HeldTemplate{}
	save := func() { applyHeld(rows, s.HeldChanges()); s.HeldSaved() }
	s.Event(ev(1*time.Second, "auth", domain.Error, "login failed for user alice at gateway"))
	save()
	s.Event(ev(2*time.Second, "auth", domain.Error, "login failed for user bob at gateway"))
	save()
	s.Event(ev(3*time.Second, "auth", domain.Error, "login failed for user bob at gateway"))
	s.Event(ev(4*time.Second, "web", domain.Error, "login failed for user carol at gateway")) // another service: merges bob's template into alice's
	save()
	var stored int
	for k, r := range rows {
		var msgs []string
		for _, e := range r.Events {
			msgs = append(msgs, e.Message)
		}
		stored += len(r.Events)
		t.Logf("row %s/%s: %q", k.Service, k.Template, msgs)
	}
	var inMem int
	for _, h := range s.pending {
		inMem += len(h.events)
	}
	t.Logf("held in memory: %d events; in the store: %d", inMem, stored)
	if stored != inMem {
		t.Errorf("acknowledged held events missing from the store: %d", inMem-stored)
	}
}
