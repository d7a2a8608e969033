// Package report renders incidents for people (text) and programs (JSON).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
)

// Text writes incidents as a readable list, in the order given. Log text
// is shown with its control characters escaped (inert.Terminal), so a
// line cannot drive the terminal it is printed on.
func Text(w io.Writer, incidents []domain.Incident) error {
	tt := inert.Terminal
	if len(incidents) == 0 {
		_, err := fmt.Fprintln(w, "no incidents")
		return err
	}
	var b strings.Builder
	for i, in := range incidents {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "incident %s  %s  service=%s  events=%d\n", in.Fingerprint, in.Severity, tt(in.Service), in.Count)
		fmt.Fprintf(&b, "  first seen  %s\n  last seen   %s\n", when(in.FirstSeen), when(in.LastSeen))
		reasons := make([]string, len(in.Reasons))
		for j, r := range in.Reasons {
			reasons[j] = string(r)
		}
		fmt.Fprintf(&b, "  reasons     %s\n", strings.Join(reasons, ", "))
		b.WriteString("  templates\n")
		for _, t := range in.Templates {
			fmt.Fprintf(&b, "    %6d  %s  %s\n", t.Count, t.ID, tt(t.Text))
		}
		b.WriteString("  samples\n")
		for _, s := range in.Samples {
			fmt.Fprintf(&b, "    %s\n", tt(s))
		}
		if in.Stack != "" {
			b.WriteString("  stack\n")
			for _, l := range strings.Split(tt(in.Stack), "\n") {
				fmt.Fprintf(&b, "    %s\n", l)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// JSON writes v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// RunNote is one line on where an incident's pipeline run stands when it
// is not plainly moving: a summary of incidents over a bound, work a
// bound holds back, a refusal, a failure, a delivery.
func RunNote(in domain.Incident, run *pipeline.Run) string {
	switch {
	case in.Summary():
		return fmt.Sprintf("summary of %d errors over the incident bounds", in.Count)
	case run == nil:
		return ""
	case run.Deferred != "":
		return "deferred: " + run.Deferred
	case run.Rejection != nil:
		return "rejected: " + strings.Join(run.Rejection.Rules(), ", ")
	case run.Failure != "":
		return "failed: " + run.Failure
	case run.Delivery != nil:
		return run.Delivery.Location
	}
	return ""
}
