package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/github"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/gitlab"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/report"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
	"github.com/cloud-sre-agent/sre-agent/internal/notify"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/coderef"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/server"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/gcppubsub"
	"github.com/cloud-sre-agent/sre-agent/internal/source/gocloud"
	"github.com/cloud-sre-agent/sre-agent/internal/source/quarantine"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
	"github.com/cloud-sre-agent/sre-agent/internal/telemetry"
)

// Paths are where the state lives: the SQLite store and the audit log.
type Paths struct{ Store, Audit string }

// statePaths resolves the store and audit log: the config's, else the
// user's state directory, the audit log beside the store.
func statePaths(cfg config.Config, dbFlag string) (Paths, error) {
	p := Paths{Store: cfg.Store.Path, Audit: cfg.Audit.Path}
	if dbFlag != "" {
		p.Store = dbFlag
	}
	if p.Store == "" {
		var err error
		if p.Store, err = sqlite.DefaultPath(); err != nil {
			return p, err
		}
	}
	if p.Audit == "" {
		p.Audit = filepath.Join(filepath.Dir(p.Store), "audit.jsonl")
	}
	return p, nil
}

// LoadPaths loads the config and resolves its state paths.
func LoadPaths(load func() (config.Config, error), dbFlag string) (config.Config, Paths, error) {
	cfg, err := load()
	if err != nil {
		return cfg, Paths{}, err
	}
	p, err := statePaths(cfg, dbFlag)
	return cfg, p, err
}

func RunAgent(ctx context.Context, cfg config.Config, dbFlag string, args []string, follow bool, stdin io.Reader, stdout, stderr io.Writer) error {
	logRed := redact.New(redact.DefaultOptions())
	masker := &telemetry.Masker{}
	log, err := telemetry.Logger(stderr, cfg.Log.Level, cfg.Log.Format, logRed, masker)
	if err != nil {
		return err
	}
	p, err := statePaths(cfg, dbFlag)
	if err != nil {
		return err
	}
	// The audit log opens once the store is open (with PostgreSQL it
	// lives there); what happens before is held and written first.
	aud := &pendingAudit{}
	defer aud.Close()
	// Every outside call goes through one transport: https only, TLS 1.2+,
	// the configured hosts; refusals are audited.
	egressTr := egress.New(cfg.Egress, aud, nil)
	// Secrets the config names resolve through the store, each value masked
	// in logs from the moment it is loaded.
	secretSt, err := SecretStore(ctx, cfg, egressTr, aud, masker, func(msg, ref string) { log.Warn(msg, "ref", ref) })
	if err != nil {
		return err
	}
	if err := secretSt.CheckAll(cfg.SecretRefs()); err != nil {
		return err
	}
	// Text from outside systems is redacted, loaded secrets masked, before
	// it is logged or audited.
	red := redact.New(redact.DefaultOptions()).WithKnown(masker)
	provider, err := buildProvider(ctx, cfg, secretSt, egressTr, aud, log, red)
	if err != nil {
		return err
	}
	shutdownTracing, err := telemetry.Tracing(ctx, cfg.Tracing.Exporter, cfg.Tracing.Endpoint, stderr, Version, egressTr.Client())
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			log.Warn("flush traces", "error", err)
		}
	}()
	store, err := openStore(ctx, cfg, p, secretSt)
	if err != nil {
		return err
	}
	defer store.Close()
	replica := replicaName(cfg)
	var auditDest auditLog
	if chains, ok := store.(chainStore); ok {
		auditDest, err = chains.OpenAudit(ctx)
		p.Audit = "postgres, chain of replica " + replica
	} else {
		auditDest, err = audit.Open(p.Audit, replica)
	}
	if err != nil {
		return err
	}
	if err := aud.attach(ctx, auditDest); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The gate looks for every kind of secret, and for email addresses and
	// phone numbers, whatever the redaction settings for logs; IP addresses
	// are left out, since code legitimately names loopback and documentation
	// addresses.
	answers := redact.New(redact.Options{Email: true, Phone: true}).WithKnown(masker)
	gate, err := policy.New(cfg.Policy, answers)
	if err != nil {
		return err
	}
	target, err := buildTarget(ctx, cfg, secretSt, egressTr, aud, red, log)
	if err != nil {
		return err
	}
	var code pipeline.CodeFinder
	if len(cfg.Repos) > 0 {
		m, err := coderef.NewMap(cfg.Repos)
		if err != nil {
			return err
		}
		m.Budget = cfg.CodeBudget
		switch t := target.(type) { // repos with source: scm read through the delivery client
		case *github.Target:
			m.SCM = t.Source()
		case *gitlab.Target:
			m.SCM = t.Source()
		}
		code = m
	}
	// People are told in chat, paging and webhooks beside the pipeline,
	// woken by each change it and the sources make.
	notifier, err := buildNotify(cfg, store, secretSt, egressTr, aud, log, red, reg)
	if err != nil {
		return err
	}
	var changedRun func(domain.Fingerprint)
	var changedSave func([]domain.Fingerprint)
	if notifier != nil {
		changedRun = func(fp domain.Fingerprint) { notifier.Changed(fp) }
		changedSave = func(fps []domain.Fingerprint) {
			if fps == nil || len(fps) > 0 { // nil: it cannot say which
				notifier.Changed(fps...)
			}
		}
	}
	pipe, err := pipeline.New(cfg.Pipeline, pipeline.Deps{Provider: provider, Store: store, Code: code, Deliverer: target, Gate: gate,
		Audit: aud, Log: log, Registerer: reg, Redactor: answers, Changed: changedRun, Silences: silencesOf(cfg, store)})
	if err != nil {
		return err
	}
	sources, closeSources, err := buildSources(ctx, cfg, p, args, follow, stdin)
	if err != nil {
		return err
	}
	defer closeSources()
	ag, err := agent.New(store, pipe, aud, sources, agent.Options{Redact: cfg.Redact, Template: cfg.Template, Detect: cfg.Detect, Parse: cfg.Parse,
		ReopenAfter: cfg.Pipeline.ReopenAfter, FlushEvery: cfg.FlushEvery, Poll: time.Second, ShutdownGrace: 10 * time.Second,
		Log: log, Registerer: reg, Replica: replica, Changed: changedSave, Known: masker})
	if err != nil {
		return err
	}
	ui, err := buildUI(ctx, cfg, store, p.Audit, reg, secretSt, egressTr, aud, red, log)
	if err != nil {
		return err
	}
	// The dashboard shares http.addr, or has its own listener (say on
	// loopback, for kubectl port-forward, while metrics listen for
	// Prometheus on the pod's address).
	listeners := []struct {
		addr string
		ui   http.Handler
	}{{cfg.HTTP.Addr, ui}}
	if cfg.Dashboard.Addr != "" {
		listeners = []struct {
			addr string
			ui   http.Handler
		}{{cfg.HTTP.Addr, nil}, {cfg.Dashboard.Addr, ui}}
	}
	for _, l := range listeners {
		if l.addr == "" {
			continue
		}
		guard, err := metricsGuard(ctx, cfg, l.addr, secretSt, egressTr, log)
		if err != nil {
			return err
		}
		srv, err := server.Listen(l.addr, reg, ag.Ready, l.ui, guard)
		if err != nil {
			return err
		}
		log.Info("serving health and metrics", "addr", srv.Addr(), "dashboard", l.ui != nil)
		if l.ui != nil && !server.Loopback(l.addr) && cfg.Dashboard.Token == "" && cfg.Dashboard.IAPAudience == "" {
			log.Warn("the dashboard is bound beyond loopback without authentication: it refuses every request until dashboard.token or dashboard.iap_audience is set")
		}
		go func() {
			if err := srv.Serve(); err != nil {
				log.Error("http server", "error", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
	}
	before, err := stateOf(ctx, store)
	if err != nil {
		return err
	}
	notified := make(chan struct{})
	notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNotify()
	if notifier != nil {
		go func() { defer close(notified); notifier.Run(notifyCtx) }()
	} else {
		close(notified)
	}
	runErr := ag.Run(ctx)
	// The last changes are told on the way out (bounded).
	stopNotify()
	<-notified
	after, err := stateOf(context.WithoutCancel(ctx), store)
	if err != nil {
		return errors.Join(runErr, err)
	}
	// What this run did, apart from what the store held before it: the
	// incidents it opened, and earlier ones (saved by `analyze` or an
	// earlier run) it took further.
	opened, earlier, all := map[domain.State]int{}, map[domain.State]int{}, map[domain.State]int{}
	for fp, st := range after {
		all[st]++
		was, known := before[fp]
		switch {
		case !known:
			opened[st]++
		case was != st:
			earlier[st]++
		}
	}
	label := "this run:"
	if runErr != nil {
		label = "this run, stopped by an error:"
	}
	fmt.Fprintf(stdout, "%s %d incidents opened (%s)\n", label, total(opened), byState(opened))
	if n := total(earlier); n > 0 {
		fmt.Fprintf(stdout, "earlier:   %d incidents from an earlier run or analyze taken further (%s)\n", n, byState(earlier))
	}
	parts := []string{byState(all)}
	where := cfg.Delivery.Local.Dir
	switch cfg.Delivery.Type {
	case "github":
		where = "draft pull requests on github " + cfg.Delivery.GitHub.Owner + "/" + cfg.Delivery.GitHub.Repo
	case "gitlab":
		where = "draft merge requests on gitlab " + cfg.Delivery.GitLab.Project
	}
	fmt.Fprintf(stdout, "incidents: %s (all in the store)\nreports:   %s\nstore:     %s\naudit log: %s\n",
		strings.Join(parts, ", "), where, storeName(cfg, p), p.Audit)
	if held, summaries, err := bounded(context.WithoutCancel(ctx), store); err == nil && held+summaries > 0 {
		fmt.Fprintf(stdout, "bounds:    %d waiting for a bound, %d summaries of errors over the incident bounds (sre-agent incidents list)\n", held, summaries)
	}
	return runErr
}

// stateOf is each stored incident's state.
func stateOf(ctx context.Context, st IncidentStore) (map[domain.Fingerprint]domain.State, error) {
	all, err := st.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[domain.Fingerprint]domain.State, len(all))
	for _, in := range all {
		out[in.Fingerprint] = in.State
	}
	return out, nil
}

func total(m map[domain.State]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// byState says counts by state in lifecycle order ("none" when empty).
func byState(m map[domain.State]int) string {
	var parts []string
	for _, st := range domain.States {
		if m[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[st], st))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// buildTarget is where proposals go: the configured delivery kind, and
// beside it the kinds delivery.also names.
func buildTarget(ctx context.Context, cfg config.Config, st *secrets.Store, tr *egress.Transport, aud audit.Appender, red *redact.Redactor, log *slog.Logger) (delivery.Deliverer, error) {
	var targets []delivery.Deliverer
	for _, t := range append([]string{cfg.Delivery.Type}, cfg.Delivery.Also...) {
		k, ok := targetKinds[t]
		if !ok {
			return nil, fmt.Errorf("delivery: unknown type %q", t)
		}
		d, err := k.build(ctx, cfg, st, tr, log)
		if err != nil {
			return nil, err
		}
		targets = append(targets, d)
	}
	if len(targets) == 1 {
		return targets[0], nil
	}
	// A secondary's failure is an outside action that failed: logged and
	// audited (the pipeline audits the delivery as a whole, by the
	// primary's outcome).
	return delivery.FanOut{Targets: targets, Failed: func(target string, err error) {
		msg := red.Redact(err.Error())
		log.Warn("a secondary delivery target failed", "target", target, "error", msg)
		if _, aerr := aud.Append(context.WithoutCancel(ctx), audit.Record{Kind: audit.KindDelivery, Outcome: "error",
			Fields: map[string]any{"target": target, "secondary": true, "error": msg}}); aerr != nil {
			log.Error("audit a secondary delivery failure", "error", aerr)
		}
	}}, nil
}

// buildSources turns the named files, else the config's sources, else
// stdin, into agent sources.
func buildSources(ctx context.Context, cfg config.Config, p Paths, args []string, follow bool, stdin io.Reader) ([]agent.Source, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	out, err := buildSourceList(ctx, cfg, p, args, follow, stdin, &closers)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return out, closeAll, nil
}

func buildSourceList(ctx context.Context, cfg config.Config, p Paths, args []string, follow bool, stdin io.Reader, closers *[]func()) ([]agent.Source, error) {
	srcs := cfg.Sources
	if len(args) > 0 {
		srcs = nil
		for _, a := range args {
			if a == "-" {
				srcs = append(srcs, config.Source{Type: "stdin"})
				continue
			}
			srcs = append(srcs, config.Source{Type: "file", Path: a, Follow: follow})
		}
	}
	if len(srcs) == 0 {
		srcs = []config.Source{{Type: "stdin"}}
	}
	var out []agent.Source
	for _, s := range srcs {
		k, ok := sourceKinds[s.Type]
		if !ok {
			return nil, fmt.Errorf("source: unknown type %q", s.Type)
		}
		src, err := k.build(ctx, s, sourceEnv{paths: p, stdin: stdin, closers: closers})
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// messageSource opens a Pub/Sub subscription or a gocloud URL, and where
// its bad messages go.
func messageSource(ctx context.Context, s config.Source, p Paths, closers *[]func()) (agent.Source, error) {
	src := agent.Source{Decode: s.DecodeFor(), Service: s.Service}
	var dl source.DeadLetter
	switch s.Type {
	case "pubsub":
		client, err := gcppubsub.NewClient(ctx, s.PubSub.Project)
		if err != nil {
			return src, err
		}
		*closers = append(*closers, func() { client.Close() })
		recv, err := gcppubsub.NewReceiver(client, s.PubSub)
		if err != nil {
			return src, err
		}
		src.Name, src.Key, src.Messages = "pubsub:"+s.PubSub.SubscriptionName(), "pubsub:"+s.PubSub.SubscriptionName(), recv
		if s.PubSub.DeadLetterTopic != "" {
			t := gcppubsub.NewDeadLetterTopic(client, s.PubSub.DeadLetterTopic)
			*closers = append(*closers, t.Stop)
			dl = t
		}
	case "url":
		recv, err := gocloud.Open(ctx, s.URL)
		if err != nil {
			return src, err
		}
		// The key names the subscription in full (two URLs may differ only
		// in a query the name leaves out: kafka topics, Service Bus
		// subscriptions): the query hashed, without the user info.
		full := s.URL
		if u, err := url.Parse(s.URL); err == nil {
			u.User = nil
			full = u.String()
		}
		sum := sha256.Sum256([]byte(full))
		src.Name, src.Key, src.Messages = gocloud.Redact(s.URL), "url:"+gocloud.Redact(s.URL)+"#"+hex.EncodeToString(sum[:6]), recv
	}
	if src.Service == "" {
		src.Service = src.Name
	}
	if dl == nil && s.DeadLetterURL != "" {
		t, err := gocloud.OpenTopic(ctx, s.DeadLetterURL)
		if err != nil {
			return src, err
		}
		*closers = append(*closers, func() { t.Shutdown(context.Background()) })
		dl = t
	}
	if dl == nil {
		q, err := quarantine.Open(filepath.Join(filepath.Dir(p.Store), "quarantine.jsonl"))
		if err != nil {
			return src, err
		}
		*closers = append(*closers, func() { q.Close() })
		dl = q
	}
	src.DeadLetter = dl
	return src, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ShowIncident prints an incident and its run as text; l links its log
// query and traces.
func ShowIncident(w io.Writer, in *domain.Incident, run *domain.Run, l links.Links) error {
	fmt.Fprintf(w, "Incident %s\n  state:     %s\n  service:   %s\n  severity:  %s\n  events:    %d\n  seen:      %s .. %s\n",
		in.Fingerprint, in.State, in.Service, in.Severity, in.Count,
		in.FirstSeen.UTC().Format(time.RFC3339), in.LastSeen.UTC().Format(time.RFC3339))
	reasons := make([]string, len(in.Reasons))
	for i, r := range in.Reasons {
		reasons[i] = string(r)
	}
	fmt.Fprintf(w, "  reasons:   %s\n", strings.Join(reasons, ", "))
	if len(in.Services) > 1 {
		fmt.Fprintf(w, "  services:  %s\n", strings.Join(in.Services, ", "))
	}
	if len(in.Entities) > 0 {
		fmt.Fprintf(w, "  entities:  %s\n", strings.Join(in.Entities, ", "))
	}
	fmt.Fprintln(w, "\nWhy it opened:")
	if err := report.ExplainBody(w, *in); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nTemplates:")
	for _, t := range in.Templates {
		fmt.Fprintf(w, "  %6d  %s\n", t.Count, t.Text)
	}
	if len(in.Samples) > 0 {
		fmt.Fprintln(w, "\nSamples (the first lines, redacted):")
		for _, s := range in.Samples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if len(in.Latest) > 0 {
		fmt.Fprintln(w, "\nLatest lines (redacted):")
		for _, s := range in.Latest {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if u := l.LogQueryURL(*in); u != "" {
		fmt.Fprintf(w, "\nLog query: %s\n", u)
	}
	if len(in.Traces) > 0 {
		fmt.Fprintln(w, "\nTraces:")
		for _, tr := range in.Traces {
			line := "  " + tr
			if span := in.Spans[tr]; span != "" {
				line += "  span " + span
			}
			if u := l.TraceURL(tr, in.Spans[tr]); u != "" {
				line += "  " + u
			}
			fmt.Fprintln(w, line)
		}
	}
	if run == nil {
		fmt.Fprintln(w, "\nPipeline: not started")
		return nil
	}
	fmt.Fprintf(w, "\nPipeline run %d:\n", run.Number)
	if t := run.Triage; t != nil {
		fmt.Fprintf(w, "  triage:      %s, %s, actionable=%v, confidence %.2f\n               %s\n", t.Category, t.Severity, t.Actionable, t.Confidence, t.Reasoning)
	}
	if a := run.Analysis; a != nil {
		fmt.Fprintf(w, "  root cause:  (confidence %.2f) %s\n", a.Confidence, a.RootCause)
		for _, f := range a.SuspectedFiles {
			fmt.Fprintf(w, "               suspect %s:%d %s\n", f.Path, f.Line, f.Reason)
		}
	}
	if r := run.Remediation; r != nil {
		fmt.Fprintf(w, "  proposal:    (risk %s) %s\n", r.Risk, r.Summary)
		for i, s := range r.Steps {
			fmt.Fprintf(w, "               %d. %s\n", i+1, s)
		}
		if r.Diff != "" {
			fmt.Fprintf(w, "  diff:        %d lines\n", strings.Count(r.Diff, "\n"))
		}
	}
	if d := run.Rejection; d != nil {
		fmt.Fprintf(w, "  rejected:    %s\n", strings.Join(d.Rules(), ", "))
		for _, v := range d.Violations {
			fmt.Fprintf(w, "               %s %s %s\n", v.Rule, v.Path, v.Detail)
		}
	}
	if d := run.Delivery; d != nil {
		fmt.Fprintf(w, "  delivered:   %s %s\n", d.Target, d.Location)
	}
	if run.Failure != "" {
		fmt.Fprintf(w, "  failure:     %s\n", run.Failure)
	}
	if run.Deferred != "" {
		fmt.Fprintf(w, "  deferred:    %s\n", run.Deferred)
	}
	return nil
}

// ParseAnchors reads --anchor values: SEQ:HASH, or @FILE holding the
// agent's JSON log, whose "audit anchor" lines are taken.
func ParseAnchors(values []string) ([]audit.Head, error) {
	var out []audit.Head
	for _, v := range values {
		if file, ok := strings.CutPrefix(v, "@"); ok {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			for _, line := range strings.Split(string(b), "\n") {
				var a struct {
					Msg, Hash string
					Seq       int64
				}
				if json.Unmarshal([]byte(line), &a) == nil && a.Msg == "audit anchor" && a.Seq > 0 {
					out = append(out, audit.Head{Seq: a.Seq, Hash: a.Hash})
				}
			}
			continue
		}
		seq, hash, ok := strings.Cut(v, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil || n < 1 || len(hash) != 64 {
			return nil, fmt.Errorf("--anchor %q: want SEQ:HASH (a sha256 in hex) or @FILE", v)
		}
		out = append(out, audit.Head{Seq: n, Hash: hash})
	}
	if len(out) == 0 {
		return nil, errors.New("--anchor: no anchor found")
	}
	return out, nil
}

// bounded counts incidents a bound holds back and summary incidents.
func bounded(ctx context.Context, st IncidentStore) (held, summaries int, err error) {
	all, err := st.Incidents(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, in := range all {
		if in.Summary() {
			summaries++
			continue
		}
		if in.State.Terminal() {
			continue
		}
		if run, err := LoadRun(ctx, st, in.Fingerprint); err == nil && run != nil && run.Deferred != "" {
			held++
		}
	}
	return held, summaries, nil
}

// LoadRun reads an incident's pipeline run (nil before the pipeline
// started on it).
func LoadRun(ctx context.Context, st pipeline.Store, fp domain.Fingerprint) (*domain.Run, error) {
	raw, err := st.LoadRun(ctx, fp)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	run := new(domain.Run)
	if err := json.Unmarshal(raw, run); err != nil {
		return nil, fmt.Errorf("decode run of %s: %w", fp, err)
	}
	return run, nil
}

func WriteJSON(w io.Writer, v any) error { return report.JSON(w, v) }

func Clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// OpenIncidents opens the configured store for the incidents commands,
// with this process's audit chain when the store keeps one.
func OpenIncidents(ctx context.Context, load func() (config.Config, error), db string) (IncidentStore, error) {
	cfg, p, err := LoadPaths(load, db)
	if err != nil {
		return nil, err
	}
	st, closeAudit, err := OpenStoreCLI(ctx, cfg, p)
	if err != nil {
		return nil, err
	}
	return ClosingStore{IncidentStore: st, CloseAudit: closeAudit}, nil
}

// ListIncidents prints every incident, most severe first: a table, or
// JSON.
// ListOptions filter `incidents list`.
type ListOptions struct {
	JSON bool
	// States and Services keep incidents in one of them (services as shell
	// patterns, matching any of an incident's services).
	States, Services []string
	// Since keeps incidents seen at or after it (zero: all).
	Since time.Time
	// Search keeps incidents whose text holds it (case-insensitive): the
	// same text the dashboard and the MCP server search (templates,
	// samples, stack, service, id, triage category, root cause).
	Search string
	// Limit keeps the first Limit after the filters (0: all).
	Limit int
}

// Incident is one incident as every command prints it in JSON: the
// incident's fields, and its pipeline run when it has one.
type Incident struct {
	*domain.Incident
	Run *domain.Run `json:"run,omitempty"`
}

// ListIncidents prints the store's incidents, most severe first, filtered.
func ListIncidents(ctx context.Context, st IncidentStore, w io.Writer, o ListOptions) error {
	all, err := st.Incidents(ctx)
	if err != nil {
		return err
	}
	var out []Incident
	needle := strings.ToLower(strings.TrimSpace(o.Search))
	for i := range all {
		in := &all[i]
		if !keep(*in, o) {
			continue
		}
		if o.Limit > 0 && len(out) == o.Limit {
			break
		}
		raw, err := st.LoadRun(ctx, in.Fingerprint)
		if err != nil {
			return err
		}
		if needle != "" {
			_, _, _, runText := domain.RunSummary(raw)
			if !strings.Contains(domain.SearchText(*in), needle) && !strings.Contains(runText, needle) {
				continue
			}
		}
		var run *domain.Run
		if len(raw) > 0 {
			run = new(domain.Run)
			if err := json.Unmarshal(raw, run); err != nil {
				return fmt.Errorf("decode run of %s: %w", in.Fingerprint, err)
			}
		}
		out = append(out, Incident{in, run})
	}
	if o.JSON {
		if out == nil {
			out = []Incident{}
		}
		return WriteJSON(w, out)
	}
	tw := tabwriter.NewWriter(inert.TerminalWriter(w), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tEVENTS\tSERVICE\tLAST SEEN\tTEMPLATE\tNOTE")
	for _, v := range out {
		in := v.Incident
		tmpl := ""
		if len(in.Templates) > 0 {
			tmpl = Clip(in.Templates[0].Text, 70)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", in.Fingerprint.Short(), in.State, in.Severity, in.Count,
			Clip(in.Service, 24), in.LastSeen.UTC().Format(time.RFC3339), tmpl, Clip(report.RunNote(*in, v.Run), 90))
	}
	return tw.Flush()
}

func keep(in domain.Incident, o ListOptions) bool {
	if len(o.States) > 0 && !slices.ContainsFunc(o.States, func(s string) bool { return strings.EqualFold(s, string(in.State)) }) {
		return false
	}
	if len(o.Services) > 0 {
		svcs := in.Services
		if len(svcs) == 0 {
			svcs = []string{in.Service}
		}
		if !slices.ContainsFunc(svcs, func(svc string) bool {
			return slices.ContainsFunc(o.Services, func(p string) bool { ok, _ := path.Match(p, svc); return ok })
		}) {
			return false
		}
	}
	return o.Since.IsZero() || !in.LastSeen.Before(o.Since)
}

// ShowIncidentByID prints one incident (id: the fingerprint or a unique
// prefix) with its pipeline run and its notifications (the effective
// route by tree, nil when none is configured, and what each receiver was
// told): text rendered inert, or JSON.
func ShowIncidentByID(ctx context.Context, st IncidentStore, id string, w io.Writer, asJSON bool, tree *notify.Tree, l links.Links) error {
	in, raw, err := st.Find(ctx, id)
	if err != nil {
		return err
	}
	var run *domain.Run
	if len(raw) > 0 {
		run = new(domain.Run)
		if err := json.Unmarshal(raw, run); err != nil {
			return fmt.Errorf("decode run: %w", err)
		}
	}
	var routes []notify.Effective
	if tree != nil {
		routes = tree.Describe(*in, run)
	}
	convs, err := st.Conversations(ctx, in.Fingerprint)
	if err != nil {
		return err
	}
	notes, err := st.Notes(ctx, in.Fingerprint)
	if err != nil {
		return err
	}
	if asJSON {
		// The same incident object as `incidents list --json`, with what
		// people said of it, where its changes are notified and what each
		// receiver was told.
		type traceLink struct {
			ID   string `json:"id"`
			Span string `json:"span,omitempty"`
			URL  string `json:"url,omitempty"`
		}
		var traces []traceLink
		for _, tr := range in.Traces {
			traces = append(traces, traceLink{tr, in.Spans[tr], l.TraceURL(tr, in.Spans[tr])})
		}
		return WriteJSON(w, struct {
			Incident
			Notes         []domain.Note         `json:"notes,omitempty"`
			Routes        []notify.Effective    `json:"routes,omitempty"`
			Conversations []domain.Conversation `json:"conversations,omitempty"`
			LogQuery      string                `json:"log_query_url,omitempty"`
			TraceLinks    []traceLink           `json:"trace_links,omitempty"`
		}{Incident{in, run}, notes, routes, convs, l.LogQueryURL(*in), traces})
	}
	tw := inert.TerminalWriter(w)
	if err := ShowIncident(tw, in, run, l); err != nil {
		return err
	}
	if run != nil && run.Silenced != nil {
		fmt.Fprintf(tw, "  silenced:    by %s at %s (stopped in %s)\n", run.Silenced.ID, run.Silenced.At.UTC().Format(time.RFC3339), run.Silenced.From)
	}
	if len(notes) > 0 {
		fmt.Fprintln(tw, "people:")
		for _, n := range notes {
			fmt.Fprintf(tw, "  %-14s %s by %s: %s\n", n.Kind+":", n.At.UTC().Format(time.RFC3339), n.Author, n.Text)
		}
	}
	return showNotifications(tw, routes, convs)
}

// showNotifications prints where an incident's changes go and what each
// receiver was told.
func showNotifications(w io.Writer, routes []notify.Effective, convs []domain.Conversation) error {
	if len(routes) == 0 && len(convs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "notifications:")
	for _, r := range routes {
		fmt.Fprintf(w, "  route:       %s by %s (%s)\n", r.Receiver, r.Route, strings.Join(r.Transitions, ", "))
	}
	for _, c := range convs {
		fmt.Fprintf(w, "  told:        %s: %d messages", c.Receiver, c.Sent)
		if c.Last != "" {
			fmt.Fprintf(w, ", last %s at %s", c.Last, c.LastAt.UTC().Format(time.RFC3339))
		}
		if c.Thread != "" {
			fmt.Fprintf(w, ", thread %s", c.Thread)
		}
		if c.Failures > 0 {
			fmt.Fprintf(w, "; failing (%d in a row: %s), next try %s", c.Failures, c.Error, c.RetryAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	}
	return nil
}
