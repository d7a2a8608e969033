package dashboard

import (
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

// SourceStatus is one source's line on the status page.
type SourceStatus struct {
	Source      string
	Events      float64
	PerSecond   float64
	ParseErrors float64
	DeadLetters float64
	Messages    float64
}

// ModelUse is one provider's calls on the status page.
type ModelUse struct {
	Provider string
	OK       float64
	Invalid  float64
	Errors   float64
}

// statusData is the status page.
type statusData struct {
	Title, Nav     string
	Sources        []SourceStatus
	RateSeconds    float64
	Models         []ModelUse
	TokensToday    int64
	CostToday      float64
	CallsToday     int
	Budget         Budget
	TokenShare     float64
	CostShare      float64
	DeadLetters    float64
	Incidents      map[string]int
	MetricsProblem string
}

// sum adds a metric family's values per label value.
func sum(fams map[string]*dto.MetricFamily, name, label string, keep func(map[string]string) bool) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if keep != nil && !keep(labels) {
			continue
		}
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		out[labels[label]] += v
	}
	return out
}

func (d *dashboard) status(w http.ResponseWriter, r *http.Request) {
	data := statusData{Title: "Status", Nav: "status", Budget: d.o.Budget, Incidents: map[string]int{}}
	fams := map[string]*dto.MetricFamily{}
	got, err := d.o.Gatherer.Gather()
	if err != nil {
		data.MetricsProblem = err.Error()
	}
	for _, f := range got {
		fams[f.GetName()] = f
	}
	events := sum(fams, "sre_agent_events_total", "source", nil)
	parse := sum(fams, "sre_agent_parse_errors_total", "source", nil)
	dead := sum(fams, "sre_agent_messages_total", "source", func(l map[string]string) bool { return l["outcome"] == "dead_lettered" })
	msgs := sum(fams, "sre_agent_messages_total", "source", nil)
	rates, secs := d.rates.rates(d.o.Now(), events)
	data.RateSeconds = secs
	names := map[string]bool{}
	for _, m := range []map[string]float64{events, parse, msgs} {
		for k := range m {
			names[k] = true
		}
	}
	for n := range names {
		data.Sources = append(data.Sources, SourceStatus{Source: n, Events: events[n], PerSecond: rates[n], ParseErrors: parse[n],
			DeadLetters: dead[n], Messages: msgs[n]})
		data.DeadLetters += dead[n]
	}
	sort.Slice(data.Sources, func(i, j int) bool { return data.Sources[i].Source < data.Sources[j].Source })
	byProvider := map[string]*ModelUse{}
	if f := fams["sre_agent_model_calls_total"]; f != nil {
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			u := byProvider[l["provider"]]
			if u == nil {
				u = &ModelUse{Provider: l["provider"]}
				byProvider[l["provider"]] = u
			}
			switch l["outcome"] {
			case "ok":
				u.OK += m.GetCounter().GetValue()
			case "invalid":
				u.Invalid += m.GetCounter().GetValue()
			default:
				u.Errors += m.GetCounter().GetValue()
			}
		}
	}
	for _, u := range byProvider {
		data.Models = append(data.Models, *u)
	}
	sort.Slice(data.Models, func(i, j int) bool { return data.Models[i].Provider < data.Models[j].Provider })
	for st, n := range sum(fams, "sre_agent_incidents", "state", nil) {
		if n > 0 {
			data.Incidents[st] = int(n)
		}
	}
	// Today's use from the audit log, as `sre-agent usage` counts it: it
	// survives restarts, unlike the counters.
	recs, err := d.o.Audit.Records(r.Context())
	if err != nil {
		d.o.Log.Error("dashboard: read audit", "error", err)
	}
	for _, sp := range audit.SpendOn(recs, d.o.Now().UTC().Format(time.DateOnly)) {
		data.CallsToday += sp.Calls
		data.TokensToday += sp.InputTokens + sp.OutputTokens
		data.CostToday += sp.CostUSD
	}
	if d.o.Budget.Tokens > 0 {
		data.TokenShare = float64(data.TokensToday) / float64(d.o.Budget.Tokens)
	}
	if d.o.Budget.CostUSD > 0 {
		data.CostShare = data.CostToday / d.o.Budget.CostUSD
	}
	d.render(w, "status", http.StatusOK, data)
}
