package ingest

import (
	"slices"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// maxEntityScan bounds the events of an incident read for its entities.
const maxEntityScan = 2000

// addEntities adds the named things (hosts, nodes, pods, block ids) that
// stand where the template has a variable: a value with a letter and a
// digit, not a path, URL or key=value. msg is already redacted. It reads
// both texts in place: it runs on an incident's early events.
func addEntities(have []string, msg, tmpl string) []string {
	if countFields(msg) != countFields(tmpl) {
		return have
	}
	for i, j := 0, 0; len(have) < domain.MaxEntities; {
		var w, slot string
		if w, i = nextField(msg, i); w == "" {
			break
		}
		slot, j = nextField(tmpl, j)
		if slot != template.Wildcard {
			continue
		}
		w = strings.Trim(w, ",;()[]\"'")
		if len(w) < 3 || len(w) > 64 || strings.ContainsAny(w, "=/:@") || strings.HasPrefix(w, "[REDACTED") {
			continue
		}
		letters, digits := 0, 0
		for k := 0; k < len(w); k++ {
			switch c := w[k]; {
			case c >= '0' && c <= '9':
				digits++
			case c|0x20 >= 'a' && c|0x20 <= 'z':
				letters++
			}
		}
		if letters > 0 && digits > 0 && 2*(letters+digits) >= len(w) && !slices.Contains(have, w) {
			have = append(have, strings.Clone(w)) // not the whole message
		}
	}
	return have
}

// nextField is the space-separated field of s at or after i, and where the
// next search starts; "" at the end.
func nextField(s string, i int) (string, int) {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j], j
}

func countFields(s string) int {
	n := 0
	for f, i := nextField(s, 0); f != ""; f, i = nextField(s, i) {
		n++
	}
	return n
}

// group finds the open incident a newly anomalous template joins: its
// service's error-rate incident when the template, seen before that
// incident opened, only rises with its rate; else an incident of any service, opened within the group wait,
// failing with the same template or the same cause.
func (s *Spine) group(key detect.TemplateKey, ev *domain.Event, cluster *template.Cluster, cause string, reasons detect.Reasons) *building {
	t := ev.Time
	if a := s.active[ev.Service]; a != nil {
		s.settle(a, t)
		// A template that only rises with the service's error rate is part
		// of that rise; one with a signal of its own (new, a crash, a
		// recurring CRITICAL) joins only an incident of the same cause.
		if _, _, first := s.detector.TemplateView(key); a.open && a.reasons&detect.Burst != 0 && reasons == detect.Burst && first.Before(a.opened) {
			return a
		}
	}
	s.pruneRecent(t)
	for _, c := range s.recent {
		if c.cluster.ID() == cluster.ID() || cause != "" && c.cause == cause {
			svc := s.service(ev.Service)
			if svc != c.inc.Service && !slices.Contains(c.services, svc) {
				c.services = append(c.services, svc)
			}
			return c
		}
	}
	return nil
}

// settle resolves b's episode when it has been quiet long enough by t.
func (s *Spine) settle(b *building, t time.Time) {
	if b.open && t.Sub(b.lastHot) >= s.detector.Config().Quiet {
		b.open = false
		if n := len(b.episodes); n > 0 { // (a store's incident carried on has none yet)
			b.episodes[n-1].End = b.lastHot
		}
	}
}

// reopen starts a new episode of b at t.
func (s *Spine) reopen(b *building, t time.Time) {
	b.open, b.opened = true, t
	b.episodes = append(b.episodes, domain.Episode{Start: t})
	b.inc.ReopenedAt = t
	s.addRecent(b, t)
}

// addRecent lets other services join b for the group wait from t.
func (s *Spine) addRecent(b *building, t time.Time) {
	s.pruneRecent(t)
	s.recent = append(s.recent, b)
}

// pruneRecent drops incidents that opened too long before t to be joined.
func (s *Spine) pruneRecent(t time.Time) {
	wait := s.detector.Config().GroupWait
	keep := s.recent[:0]
	for _, c := range s.recent {
		if wait > 0 && t.Sub(c.opened) <= wait && c.open {
			keep = append(keep, c)
		}
	}
	clear(s.recent[len(keep):])
	s.recent = keep
}

// explain records what the detector saw when key opened an incident.
func (s *Spine) explain(key detect.TemplateKey, ev *domain.Event, cluster *template.Cluster, r detect.Reasons) *domain.Explanation {
	cfg := s.detector.Config()
	rv := s.detector.Rate(key.Service)
	n, base, first := s.detector.TemplateView(key)
	return &domain.Explanation{
		Rule: rule(r), At: ev.Time, Service: s.service(ev.Service), Template: cluster.Template(),
		ShortWindow: cfg.Window, LongWindow: cfg.LongWindow,
		ShortErrors: rv.ShortErrors, ShortEvents: rv.ShortEvents, LongErrors: rv.LongErrors, LongEvents: rv.LongEvents,
		BaselineRatio: rv.Baseline, Threshold: rv.Threshold, WarmedUp: rv.Warm,
		TemplateCount: n, TemplateBaseline: base, TemplateFirst: first,
	}
}

// rule names the most specific reason: a crash, recurring criticals, a
// new template, a template spike, then the service's error rate.
func rule(r detect.Reasons) domain.Reason {
	for _, c := range []detect.Reasons{detect.Fatal, detect.Critical, detect.NewTemplate, detect.Spike, detect.Burst, detect.Resumed} {
		if r&c != 0 {
			return c.List()[0]
		}
	}
	return ""
}

// causeOf is the kind of error a template reports, for grouping services:
// the last clause of an error chain ("...: connect: connection refused")
// without its variables, when it says enough to be a kind (two words).
func causeOf(tmpl string) string {
	c := tmpl
	if i := strings.LastIndex(c, ": "); i >= 0 {
		c = c[i+2:]
	}
	c = strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(c, template.Wildcard, " ")), " "))
	if strings.Count(c, " ") < 1 || len(c) < 8 {
		return ""
	}
	return c
}
