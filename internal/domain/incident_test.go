package domain

import (
	"testing"
	"time"
)

func TestIncidentObserveAndMerge(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var a Incident
	a.Observe(Warning, t0.Add(time.Minute))
	a.Observe(Error, t0.Add(2*time.Minute))
	a.Templates = []Template{{ID: "t1", Count: 2}}
	a.AddSample("one")
	if a.Count != 2 || a.Severity != Error || !a.FirstSeen.Equal(t0.Add(time.Minute)) || !a.LastSeen.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after Observe: %+v", a)
	}
	b := Incident{Count: 3, Severity: Critical, FirstSeen: t0, LastSeen: t0.Add(time.Minute),
		Templates: []Template{{ID: "t1", Count: 1}, {ID: "t2", Count: 2}}, Reasons: []Reason{ReasonFatal},
		Samples: []string{"one", "two"}, Stack: "trace"}
	a.Merge(&b)
	if a.Count != 5 || a.Severity != Critical || !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after Merge: count %d sev %s range %s..%s", a.Count, a.Severity, a.FirstSeen, a.LastSeen)
	}
	if len(a.Templates) != 2 || a.Templates[0].Count != 3 || a.Templates[1].Count != 2 {
		t.Errorf("templates %+v", a.Templates)
	}
	if len(a.Samples) != 2 || a.Stack != "trace" || len(a.Reasons) != 1 {
		t.Errorf("samples %v stack %q reasons %v", a.Samples, a.Stack, a.Reasons)
	}
	// Time-less events do not pull first-seen back to the zero time.
	var c Incident
	c.Observe(Error, t0)
	c.Observe(Error, time.Time{})
	if !c.FirstSeen.Equal(t0) {
		t.Errorf("zero time widened the range: %s", c.FirstSeen)
	}
}
