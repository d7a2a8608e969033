package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/googlechat"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/pagerduty"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/slack"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/teams"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/webhook"
	"github.com/cloud-sre-agent/sre-agent/internal/doctor"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/notify"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// notifier is a receiver's sink: it tells, and doctor can check it
// (findings are what works but could be tighter).
type notifier interface {
	delivery.Notifier
	Check(ctx context.Context) (findings []string, err error)
}

// receiverKind is one kind of notify.receivers[] entry: which block of
// the receiver's settings it reads, and how its sink is built (New checks
// the settings, so the config check builds it without a client).
type receiverKind struct {
	set   func(config.Receiver) bool
	build func(r config.Receiver, client *http.Client, st delivery.Secrets) (notifier, error)
}

var receiverKinds = map[string]receiverKind{
	"slack": {
		set: func(r config.Receiver) bool { return r.Slack != nil },
		build: func(r config.Receiver, c *http.Client, st delivery.Secrets) (notifier, error) {
			return slack.New(slack.Config{Name: r.Name, Token: r.Slack.Token, Channel: r.Slack.Channel, WebhookURL: r.Slack.WebhookURL,
				APIURL: r.Slack.APIURL, MaxAttempts: r.MaxAttempts}, c, st)
		},
	},
	"pagerduty": {
		set: func(r config.Receiver) bool { return r.PagerDuty != nil },
		build: func(r config.Receiver, c *http.Client, st delivery.Secrets) (notifier, error) {
			return pagerduty.New(pagerduty.Config{Name: r.Name, RoutingKey: r.PagerDuty.RoutingKey, URL: r.PagerDuty.URL, MaxAttempts: r.MaxAttempts}, c, st)
		},
	},
	"googlechat": {
		set: func(r config.Receiver) bool { return r.GoogleChat != nil },
		build: func(r config.Receiver, c *http.Client, st delivery.Secrets) (notifier, error) {
			return googlechat.New(googlechat.Config{Name: r.Name, WebhookURL: r.GoogleChat.WebhookURL, MaxAttempts: r.MaxAttempts}, c, st)
		},
	},
	"teams": {
		set: func(r config.Receiver) bool { return r.Teams != nil },
		build: func(r config.Receiver, c *http.Client, st delivery.Secrets) (notifier, error) {
			return teams.New(teams.Config{Name: r.Name, WebhookURL: r.Teams.WebhookURL, MaxAttempts: r.MaxAttempts}, c, st)
		},
	},
	"webhook": {
		set: func(r config.Receiver) bool { return r.Webhook != nil },
		build: func(r config.Receiver, c *http.Client, st delivery.Secrets) (notifier, error) {
			return webhook.New(webhook.Config{Name: r.Name, URL: r.Webhook.URL, Secret: r.Webhook.Secret, Format: r.Webhook.Format,
				MaxAttempts: r.MaxAttempts}, c, st)
		},
	},
}

// receiverKindOf is the one kind a receiver's settings name.
func receiverKindOf(r config.Receiver) (string, error) {
	var kinds []string
	for name, k := range receiverKinds {
		if k.set(r) {
			kinds = append(kinds, name)
		}
	}
	sort.Strings(kinds)
	switch len(kinds) {
	case 1:
		return kinds[0], nil
	case 0:
		return "", fmt.Errorf("receiver %q: give one of %s", r.Name, names(receiverKinds))
	}
	return "", fmt.Errorf("receiver %q: one kind per receiver, not %s", r.Name, strings.Join(kinds, " and "))
}

// checkNotify checks each receiver's settings through its kind.
func checkNotify(n config.Notify) error {
	for i, r := range n.Receivers {
		kind, err := receiverKindOf(r)
		if err == nil {
			_, err = receiverKinds[kind].build(r, nil, nil)
		}
		if err != nil {
			return fmt.Errorf("notify.receivers[%d]: %w", i, err)
		}
	}
	_, err := notify.Compile(n.Route)
	return err
}

// buildReceivers makes every configured receiver's sink, by name.
func buildReceivers(cfg config.Config, client *http.Client, st delivery.Secrets) (map[string]notifier, []string, error) {
	out := map[string]notifier{}
	var order []string
	for _, r := range cfg.Notify.Receivers {
		kind, err := receiverKindOf(r)
		if err != nil {
			return nil, nil, err
		}
		n, err := receiverKinds[kind].build(r, client, st)
		if err != nil {
			return nil, nil, err
		}
		out[r.Name] = n
		order = append(order, r.Name)
	}
	return out, order, nil
}

// NotifyTree is the config's routing tree, nil when nothing is notified.
func NotifyTree(cfg config.Config) (*notify.Tree, error) {
	if !cfg.Notify.Enabled() {
		return nil, nil
	}
	return notify.Compile(cfg.Notify.Route)
}

// buildNotify makes the dispatcher of the config's receivers, nil when
// none are configured. Sinks reach out through the egress transport.
func buildNotify(cfg config.Config, store notify.Store, st *secrets.Store, tr *egress.Transport, aud audit.Appender,
	log *slog.Logger, red notify.Redactor, reg prometheus.Registerer) (*notify.Dispatcher, error) {
	tree, err := NotifyTree(cfg)
	if tree == nil || err != nil {
		return nil, err
	}
	sinks, order, err := buildReceivers(cfg, tr.Client(), st)
	if err != nil {
		return nil, err
	}
	var rs []notify.Receiver
	for i, name := range order {
		rs = append(rs, notify.Receiver{Notifier: sinks[name], RateLimit: cfg.Notify.Receivers[i].RateLimit})
	}
	return notify.New(notify.Options{Store: store, Tree: tree, Receivers: rs, Audit: aud, Log: log, Redactor: red,
		DashboardURL: strings.TrimRight(cfg.Notify.DashboardURL, "/"), Every: cfg.Notify.Every, Registerer: reg})
}

// ReceiverChecks are doctor's checks of each configured receiver: the
// endpoint https, the credential resolving and accepted where the service
// can say so (Slack's auth.test), and anything broader than needed.
func ReceiverChecks(ctx context.Context, cfg config.Config, st *secrets.Store, client *http.Client) []doctor.Check {
	var out []doctor.Check
	for _, r := range cfg.Notify.Receivers {
		kind, err := receiverKindOf(r)
		c := doctor.Check{Name: "notify receiver " + r.Name + " (" + kind + ")", Status: doctor.Pass, Detail: "reachable with its credential"}
		var n notifier
		if err == nil {
			n, err = receiverKinds[kind].build(r, client, st)
		}
		var findings []string
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			findings, err = n.Check(cctx)
			cancel()
		}
		switch {
		case err != nil:
			c.Status, c.Detail = doctor.Fail, err.Error()
		case len(findings) > 0:
			c.Status, c.Detail = doctor.Warn, strings.Join(findings, "; ")
		case kind == "slack" && r.Slack.Token == "":
			c.Detail = "incoming webhook: https, resolves (it cannot update messages or thread them)"
		}
		out = append(out, c)
	}
	return out
}

// NotifyTest sends a sample incident's opening to one receiver, so a
// person can see how it looks there. The sample carries hostile text, to
// show it arrives inert.
func NotifyTest(ctx context.Context, cfg config.Config, receiver string, st *secrets.Store, tr *egress.Transport, aud audit.Appender, red notify.Redactor) (string, error) {
	sinks, _, err := buildReceivers(cfg, tr.Client(), st)
	if err != nil {
		return "", err
	}
	n, ok := sinks[receiver]
	if !ok {
		var have []string
		for name := range sinks {
			have = append(have, name)
		}
		sort.Strings(have)
		if len(have) == 0 {
			return "", errors.New("notify test: no receivers are configured (notify.receivers)")
		}
		return "", fmt.Errorf("notify test: no receiver is named %q (configured: %s)", receiver, strings.Join(have, ", "))
	}
	now := time.Now().UTC()
	note := delivery.Notification{Transition: delivery.Opened, Key: notify.Key("sre-agent-test", delivery.Opened, now.Format(time.RFC3339Nano)),
		Incident: domain.Incident{Fingerprint: "sre-agent-test", Service: "checkout", Severity: domain.Error, State: domain.StateNew,
			FirstSeen: now.Add(-5 * time.Minute), LastSeen: now, Count: 42, Reasons: []domain.Reason{domain.ReasonNewTemplate},
			Templates: []domain.Template{{ID: "test", Count: 42, Text: "TEST from sre-agent: payments-db pool exhausted <*> (a log line saying <!channel> @here <https://example.com|click> stays inert)"}}},
		Run: &domain.Run{Number: 1, Triage: &domain.Triage{Category: "dependency", Severity: "error", Actionable: true},
			Analysis: &domain.Analysis{RootCause: "This is a test message from `sre-agent notify test`; no incident exists."}}}
	if cfg.Notify.DashboardURL != "" {
		note.DashboardURL = strings.TrimRight(cfg.Notify.DashboardURL, "/") + "/"
	}
	thread, err := n.Notify(ctx, note, "")
	outcome, fields := "sent", map[string]any{"receiver": receiver, "transition": "test", "key": note.Key}
	if err != nil {
		err = errors.New(red.Redact(err.Error()))
		outcome, fields["error"] = "error", err.Error()
	}
	if _, aerr := aud.Append(context.WithoutCancel(ctx), audit.Record{Kind: audit.KindNotification, Outcome: outcome, Fields: fields}); aerr != nil {
		return thread, errors.Join(err, aerr)
	}
	return thread, err
}

// NotifyTestCLI is `sre-agent notify test RECEIVER`: the secrets it reads
// and the message it sends are audited (in the log file, or in this
// command's own chain in PostgreSQL); it prints where the message went.
func NotifyTestCLI(ctx context.Context, cfg config.Config, dbFlag, receiver string, w io.Writer) error {
	return withSession(ctx, cfg, dbFlag, func(s session) error {
		thread, err := NotifyTest(ctx, cfg, receiver, s.secrets, s.egress, s.audit, s.redactor)
		if err != nil {
			return err
		}
		if thread != "" {
			fmt.Fprintf(w, "sent a test message to %s (thread %s)\n", receiver, inert.Terminal(thread))
		} else {
			fmt.Fprintf(w, "sent a test message to %s\n", receiver)
		}
		return nil
	})
}
