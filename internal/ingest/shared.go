package ingest

import (
	"sort"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// Shared detection: when several replicas read one stream between them,
// each spine counts its events per bucket and holds the error events of
// templates that are not yet incidents (held.go, as a single spine does,
// saved with its share). At every flush the
// counts go to the shared store and the decision is taken there on every
// replica's counts together (Decide); only a fatal event makes an incident
// on its own, as it does for a single agent.

type svcBucket struct {
	service string
	bucket  int64
}

type keyWindow struct {
	buckets  map[int64]int64
	earliest time.Time
}

type shared struct {
	all, errs map[svcBucket]int64
	keys      map[detect.TemplateKey]*keyWindow
	// flushed is what the last TakeShared handed out, for Decide: the
	// local keys of each template (templates merged in the miner have
	// several).
	flushed map[domain.WindowID][]detect.TemplateKey
}

// Share turns shared detection on; call it before the first event.
func (s *Spine) Share() {
	s.shared = &shared{all: map[svcBucket]int64{}, errs: map[svcBucket]int64{}, keys: map[detect.TemplateKey]*keyWindow{}}
}

func (sh *shared) count(service string, bucket int64, isErr bool, key detect.TemplateKey, t time.Time) {
	sb := svcBucket{service, bucket}
	sh.all[sb]++
	if !isErr {
		return
	}
	sh.errs[sb]++
	kw := sh.keys[key]
	if kw == nil {
		kw = &keyWindow{buckets: map[int64]int64{}, earliest: t}
		sh.keys[key] = kw
	}
	kw.buckets[bucket]++
	if t.Before(kw.earliest) {
		kw.earliest = t
	}
}

// decideOn puts key in the next decision without counting an event: a
// held event adopted from a replica that stopped, which counted it.
func (sh *shared) decideOn(bucket int64, isErr bool, key detect.TemplateKey, t time.Time) {
	if !isErr {
		return
	}
	kw := sh.keys[key]
	if kw == nil {
		kw = &keyWindow{buckets: map[int64]int64{}, earliest: t}
		sh.keys[key] = kw
	}
	kw.buckets[bucket] += 0
	if t.Before(kw.earliest) {
		kw.earliest = t
	}
}

// sharedEvent adds one error event under shared detection: per template,
// as every replica must decide alike; only a fatal event decides here, the
// rest waits for Decide on the merged counts.
func (s *Spine) sharedEvent(key detect.TemplateKey, ev *domain.Event, cluster *template.Cluster, reasons detect.Reasons) {
	reasons &= detect.Fatal
	b := s.incidents[key]
	if b == nil && s.bounds.summarised[key] {
		s.fold(ev, cluster)
		return
	}
	if b == nil && reasons == 0 {
		// Held until the merged counts decide; kept across flushes for
		// the long window, as a single spine holds them.
		s.hold(key, ev, cluster, notCritical)
		return
	}
	if b == nil {
		if !s.admit(key, ev) {
			s.fold(ev, cluster)
			return
		}
		b = s.newBuilding(ev, cluster)
		s.incidents[key] = b
		s.order = append(s.order, b)
		s.absorb(key, b)
	}
	if s.ReopenAfter > 0 && b.inc.Count > 0 && ev.Time.Sub(b.inc.LastSeen) >= s.ReopenAfter {
		b.inc.ReopenedAt = ev.Time
	}
	s.observe(b, ev, reasons, cluster)
}

// Flush is what a spine hands the shared store at a flush.
type Flush struct {
	Counts []domain.WindowCount
	Keys   []domain.WindowKey
}

// TakeShared returns the counts since the last flush and the error
// templates to decide on, and starts counting afresh. Services are
// redacted, as in incidents. Counts come sorted (service, series,
// bucket), the order a store locks them in.
func (s *Spine) TakeShared() Flush {
	sh := s.shared
	var f Flush
	red := map[string]string{}
	redacted := func(svc string) string {
		r, ok := red[svc]
		if !ok {
			r = s.redactor.Redact(svc)
			red[svc] = r
		}
		return r
	}
	// Distinct raw services may redact to one name: sum them.
	sums := map[domain.WindowCount]int64{}
	add := func(svc, series string, b, n int64) {
		sums[domain.WindowCount{Service: redacted(svc), Series: series, Bucket: b}] += n
	}
	for sb, n := range sh.all {
		add(sb.service, detect.SeriesAll, sb.bucket, n)
	}
	for sb, n := range sh.errs {
		add(sb.service, detect.SeriesErrors, sb.bucket, n)
	}
	sh.flushed = map[domain.WindowID][]detect.TemplateKey{}
	type window struct {
		from, to int64
		earliest time.Time
	}
	wins := map[domain.WindowID]*window{}
	for key, kw := range sh.keys {
		c := s.cluster(key)
		if c == nil {
			continue
		}
		id := domain.WindowID{Service: redacted(key.Service), Template: c.ID()}
		sh.flushed[id] = append(sh.flushed[id], key)
		w := wins[id]
		for b, n := range kw.buckets {
			add(key.Service, string(id.Template), b, n)
			if w == nil {
				w = &window{from: b, to: b, earliest: kw.earliest}
				wins[id] = w
			}
			w.from, w.to = min(w.from, b), max(w.to, b)
		}
		if kw.earliest.Before(w.earliest) {
			w.earliest = kw.earliest
		}
	}
	for c, n := range sums {
		c.N = n
		f.Counts = append(f.Counts, c)
	}
	sort.Slice(f.Counts, func(i, j int) bool {
		a, b := f.Counts[i], f.Counts[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Series != b.Series {
			return a.Series < b.Series
		}
		return a.Bucket < b.Bucket
	})
	for id, w := range wins {
		f.Keys = append(f.Keys, domain.WindowKey{Service: id.Service, Template: id.Template, From: w.from, To: w.to, Earliest: w.earliest})
	}
	sort.Slice(f.Keys, func(i, j int) bool {
		if f.Keys[i].Service != f.Keys[j].Service {
			return f.Keys[i].Service < f.Keys[j].Service
		}
		return f.Keys[i].Template < f.Keys[j].Template
	})
	clear(sh.all)
	clear(sh.errs)
	// Keys stay until Decide has their buckets.
	return f
}

// cluster is the template of a key the spine is counting.
func (s *Spine) cluster(key detect.TemplateKey) *template.Cluster {
	if b := s.incidents[key]; b != nil {
		return b.cluster
	}
	if h := s.pending[key]; h != nil {
		return h.cluster
	}
	return nil
}

// Decide takes the decision for the templates of the last TakeShared on
// the merged counts: a candidate with a reason becomes an incident (its
// events since the last flush count), an incident gains the reasons; the
// other candidates are dropped by Settle. It returns the templates' baselines with
// the windows that closed folded in.
func (s *Spine) Decide(merged map[domain.WindowID]detect.Merged) []detect.KeyedBaseline {
	sh := s.shared
	var out []detect.KeyedBaseline
	for id, keys := range sh.flushed {
		m, ok := merged[id]
		if !ok {
			continue
		}
		// The template's local keys are one template: judged together,
		// made incidents together.
		var all []int64
		reasons := make([]detect.Reasons, len(keys))
		open := m.Open
		for i, key := range keys {
			kw := sh.keys[key]
			if kw == nil {
				continue
			}
			bs := make([]int64, 0, len(kw.buckets))
			for b := range kw.buckets {
				bs = append(bs, b)
			}
			sort.Slice(bs, func(i, j int) bool { return bs[i] < bs[j] })
			all = append(all, bs...)
			reasons[i] = s.detector.EvaluateMerged(m, bs, kw.earliest)
			open = open || reasons[i] != 0 || s.incidents[key] != nil
		}
		for i, key := range keys {
			if b := s.incidents[key]; b != nil {
				b.reasons |= reasons[i]
				s.absorb(key, b)
			} else if h := s.pending[key]; h != nil && open && !s.bounds.summarised[key] {
				// (A key summarised here on an earlier run of this
				// Decide is folded already.)
				s.promote(key, h, reasons[i])
			}
		}
		if len(all) == 0 {
			continue
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		out = append(out, detect.KeyedBaseline{WindowID: id, SharedBaseline: s.detector.FoldMerged(m.Baseline, m.Errors, all[len(all)-1])})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Template < out[j].Template
	})
	return out
}

// absorb takes key's held events, if any, into its incident b.
func (s *Spine) absorb(key detect.TemplateKey, b *building) {
	h := s.pending[key]
	if h == nil {
		return
	}
	s.unpend(key, h)
	for i := range h.events {
		s.observe(b, &h.events[i], 0, h.cluster)
	}
	b.inc.Count += h.dropped
}

// promote makes key's held events an incident the merged counts opened,
// or folds them into the service's summary over the bounds.
func (s *Spine) promote(key detect.TemplateKey, h *held, reasons detect.Reasons) {
	s.unpend(key, h)
	if len(h.events) == 0 {
		return
	}
	first := h.events[0]
	if !s.admit(key, &domain.Event{Service: key.Service, Time: first.Time}) {
		for i := range h.events {
			s.fold(&h.events[i], h.cluster)
		}
		if sm := s.bounds.summaries[key.Service]; sm != nil {
			sm.b.inc.Count += h.dropped
			sm.add(h.cluster, h.dropped)
		}
		return
	}
	b := s.newBuilding(&first, h.cluster)
	b.reasons |= reasons
	s.incidents[key] = b
	s.order = append(s.order, b)
	for i := range h.events {
		s.observe(b, &h.events[i], 0, h.cluster)
	}
	b.inc.Count += h.dropped
}

// Settle ends a flush once the store holds it. Decide may run more than
// once before (a store retrying its transaction); it gives the same
// answer.
func (s *Spine) Settle() {
	clear(s.shared.keys)
	s.shared.flushed = nil
	// Held events the merged counts have decided on and that are older
	// than the long window before the latest event age out.
	lw := s.detector.Config().LongWindow
	for k, h := range s.pending {
		if n := len(h.events); n == 0 || s.newest.Sub(h.events[n-1].Time) > lw {
			s.unpend(k, h)
		}
	}
}

// RestoreTemplates adds templates other replicas registered, with their
// ids, so lines that match them here get the same ids.
func (s *Spine) RestoreTemplates(ts []domain.Template) {
	for _, t := range ts {
		s.miner.Restore(t.ID, t.Text)
	}
}
