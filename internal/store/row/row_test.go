package row

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

func TestColumnsRoundTrip(t *testing.T) {
	in := domain.Incident{Fingerprint: "fp", Reasons: []domain.Reason{domain.ReasonFatal}, Templates: []domain.Template{{ID: "t", Text: "x <*>", Count: 2}},
		Samples: []string{"s"}, SourceLocation: &domain.SourceLocation{File: "a.go", Line: 3}, Labels: map[string]string{"k": "v"},
		Timeline: domain.Timeline{time.Unix(600, 0).Unix() / 60: 2},
		Why:      &domain.Explanation{Rule: domain.ReasonBurst, At: time.Unix(600, 0).UTC(), Service: "api", ShortErrors: 12, ShortEvents: 20, BaselineRatio: 0.04, Threshold: 0.12},
		Episodes: []domain.Episode{{Start: time.Unix(600, 0).UTC(), End: time.Unix(900, 0).UTC(), Count: 12}},
		Services: []string{"api", "web"}, Entities: []string{"node-12"}, Latest: []string{"l"},
		Traces: []string{"projects/p/traces/ab"}, Spans: map[string]string{"projects/p/traces/ab": "0f"}}
	var out domain.Incident
	if err := Encode(in).Decode(&out); err != nil {
		t.Fatal(err)
	}
	out.Fingerprint = in.Fingerprint
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
	bare := Encode(domain.Incident{})
	if bare.SourceLocation != "" || bare.Labels != "" || bare.Timeline != "" || bare.Detection != "" {
		t.Errorf("absent fields stored as %+v", bare)
	}
	if err := (Columns{Reasons: "[1", Templates: "[]", Samples: "[]"}).Decode(&out); err == nil {
		t.Error("a broken column decoded")
	}
	tpl, tl := EncodeShare(in)
	var sh domain.Incident
	if err := DecodeShare(tpl, tl, &sh); err != nil || sh.Templates[0].Count != 2 || sh.Timeline[10] != 2 {
		t.Errorf("share %+v %v", sh, err)
	}
}

func TestRunsAndIDs(t *testing.T) {
	if RunNumber("") != 0 || RunNumber(`{"number":3,"triage":{}}`) != 3 || RunNumber(NewRun(3)) != 4 || RunNumber(NewRun(0)) != 2 {
		t.Error("run numbers")
	}
	for _, bad := range []string{"", "ab%", "a_b", `a\`, strings.Repeat("a", 50000)} {
		if err := CheckID(bad); !errors.Is(err, domain.ErrBadIncidentID) {
			t.Errorf("id %q accepted", bad)
		}
	}
	if _, err := Resolve("ab", nil); !errors.Is(err, domain.ErrNoIncident) {
		t.Errorf("no match: %v", err)
	}
	if fp, err := Resolve("ab", []string{"abc"}); err != nil || fp != "abc" {
		t.Errorf("one match: %s %v", fp, err)
	}
	if _, err := Resolve("ab", []string{"abc", "abd"}); err == nil || errors.Is(err, domain.ErrNoIncident) {
		t.Errorf("two matches: %v", err)
	}
}
