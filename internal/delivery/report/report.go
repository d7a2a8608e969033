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
		if len(in.Services) > 1 {
			fmt.Fprintf(&b, "  services    %s\n", tt(strings.Join(in.Services, ", ")))
		}
		if len(in.Entities) > 0 {
			fmt.Fprintf(&b, "  entities    %s\n", tt(strings.Join(in.Entities, ", ")))
		}
		b.WriteString("  templates\n")
		for _, t := range in.Templates {
			fmt.Fprintf(&b, "    %6d  %s  %s\n", t.Count, t.ID, tt(t.Text))
		}
		b.WriteString("  samples\n")
		for _, s := range in.Samples {
			fmt.Fprintf(&b, "    %s\n", tt(s))
		}
		if len(in.Latest) > 0 {
			b.WriteString("  latest\n")
			for _, s := range in.Latest {
				fmt.Fprintf(&b, "    %s\n", tt(s))
			}
		}
		for _, tr := range in.Traces {
			if span := in.Spans[tr]; span != "" {
				fmt.Fprintf(&b, "  trace       %s span %s\n", tt(tr), tt(span))
				continue
			}
			fmt.Fprintf(&b, "  trace       %s\n", tt(tr))
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

// Explain says in words why an incident opened: the rule, the windows,
// the service's baseline error ratio and the rate observed.
func Explain(w io.Writer, in domain.Incident) error {
	tt := inert.Terminal
	var b strings.Builder
	fmt.Fprintf(&b, "incident %s  service=%s  events=%d\n", in.Fingerprint, tt(in.Service), in.Count)
	if len(in.Services) > 1 {
		fmt.Fprintf(&b, "  services    %s\n", tt(strings.Join(in.Services, ", ")))
	}
	explainBody(&b, in)
	_, err := io.WriteString(w, b.String())
	return err
}

// ExplainBody is Explain without its heading line, for a page that has one.
func ExplainBody(w io.Writer, in domain.Incident) error {
	var b strings.Builder
	explainBody(&b, in)
	_, err := io.WriteString(w, b.String())
	return err
}

func explainBody(b *strings.Builder, in domain.Incident) {
	tt := inert.Terminal
	x := in.Why
	if x == nil {
		b.WriteString("  no explanation recorded (an incident from an older run, shared detection or a summary over the bounds)\n")
		return
	}
	fmt.Fprintf(b, "  opened      %s by rule %s\n", when(x.At), x.Rule)
	fmt.Fprintf(b, "  template    %s\n", tt(x.Template))
	switch x.Rule {
	case domain.ReasonBurst:
		b.WriteString("  why         the service's error ratio rose well above its baseline over both windows\n")
	case domain.ReasonNewTemplate:
		b.WriteString("  why         an error template the service had not shown since its warm-up\n")
	case domain.ReasonFatal:
		b.WriteString("  why         a crash signature (panic, uncaught exception, segfault, OOM kill)\n")
	case domain.ReasonSpike:
		b.WriteString("  why         the template's rate rose well above its own usual count\n")
	case domain.ReasonCritical:
		b.WriteString("  why         CRITICAL lines without a crash signature recurred\n")
	}
	ratio := func(e, n int64) string {
		if n == 0 {
			return "no events"
		}
		return fmt.Sprintf("%d/%d errors (%.1f%%)", e, n, 100*float64(e)/float64(n))
	}
	fmt.Fprintf(b, "  short       %v window: %s\n", x.ShortWindow, ratio(x.ShortErrors, x.ShortEvents))
	fmt.Fprintf(b, "  long        %v window: %s\n", x.LongWindow, ratio(x.LongErrors, x.LongEvents))
	if x.BaselineRatio < 0 {
		fmt.Fprintf(b, "  baseline    none yet (cold start): the rule fires at %.1f%%\n", 100*x.Threshold)
	} else {
		fmt.Fprintf(b, "  baseline    %.1f%% errors; the rule fires at %.1f%%\n", 100*x.BaselineRatio, 100*x.Threshold)
	}
	fmt.Fprintf(b, "  warmed up   %v\n", x.WarmedUp)
	fmt.Fprintf(b, "  template    %d in the short window, usually %.1f; first seen %s\n", x.TemplateCount, x.TemplateBaseline, when(x.TemplateFirst))
	for i, e := range in.Episodes {
		end := "open"
		if !e.End.IsZero() {
			end = when(e.End)
		}
		fmt.Fprintf(b, "  episode %d   %s .. %s  %d events\n", i+1, when(e.Start), end, e.Count)
	}
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
func RunNote(in domain.Incident, run *domain.Run) string {
	switch {
	case in.Summary():
		return fmt.Sprintf("summary of %d errors over the incident bounds", in.Count)
	case run == nil:
		return ""
	case in.State == domain.StateSilenced && run.Silenced != nil:
		if !run.Silenced.Until.IsZero() {
			return fmt.Sprintf("silenced by %s until %s", run.Silenced.ID, run.Silenced.Until.UTC().Format(time.RFC3339))
		}
		return "silenced by " + run.Silenced.ID
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
