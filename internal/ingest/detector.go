package ingest

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// A single spine whose input is acknowledged saves its detector's state
// (what each service and error template's windows, baselines and first
// sightings are) with each flush, only what changed; the next run of the
// source restores each service and template at its first event there, so
// that a restart decides as the run before would have.

type restoreState struct {
	services  map[string][]byte
	templates map[baselineKey][]byte
}

// DetectorChanges is the detector state changed since the last call, by
// (redacted) service and template id.
func (s *Spine) DetectorChanges() []domain.DetectorState {
	if s.clusters == nil {
		return nil
	}
	svcs, keys := s.detector.Touched()
	var out []domain.DetectorState
	for _, svc := range svcs {
		if b, ok := s.detector.SaveService(svc); ok {
			out = append(out, domain.DetectorState{Service: s.service(svc), State: b})
		}
	}
	for _, k := range keys {
		c := s.clusters[k]
		if c == nil {
			continue
		}
		if b, ok := s.detector.SaveTemplate(k); ok {
			out = append(out, domain.DetectorState{Service: s.service(k.Service), Template: c.ID(), State: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return heldLess(out[i].Service, out[i].Template, out[j].Service, out[j].Template) })
	return out
}

// RestoreDetector takes what an earlier run of the source saved. A row
// that does not read is left out and named in the error; the rest is
// restored.
func (s *Spine) RestoreDetector(rows []domain.DetectorState) error {
	s.restore = &restoreState{services: map[string][]byte{}, templates: map[baselineKey][]byte{}}
	var errs []error
	for _, r := range rows {
		probe, err := detect.New(s.detector.Config())
		if err != nil {
			return err
		}
		if r.Template == "" {
			err = probe.RestoreService(r.Service, r.State)
		} else {
			err = probe.RestoreTemplate(detect.TemplateKey{Service: r.Service}, r.State)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("detector state %s/%s left out: %w", r.Service, r.Template, err))
			continue
		}
		if r.Template == "" {
			s.restore.services[r.Service] = r.State
			// An event without a time takes the last one's: the last
			// run's, until this one reads one.
			if _, last, ok := probe.Span(r.Service); ok && last.After(s.lastTime) {
				s.lastTime, s.newest = last, last
			}
		} else {
			s.restore.templates[baselineKey{r.Service, r.Template}] = r.State
		}
	}
	return errors.Join(errs...)
}

// restoreDetector gives the detector what an earlier run saved of ev's
// service and template, before their first event here.
func (s *Spine) restoreDetector(ev *domain.Event, key detect.TemplateKey, cluster *template.Cluster, isErr bool) {
	if !s.detector.Seen(ev.Service) {
		if b, ok := s.restore.services[s.service(ev.Service)]; ok {
			s.detector.RestoreService(ev.Service, b) // read before: no error
		}
	}
	if isErr && !s.detector.HasTemplate(key) {
		if b, ok := s.restore.templates[baselineKey{s.service(ev.Service), cluster.ID()}]; ok {
			s.detector.RestoreTemplate(key, b)
		}
	}
}
