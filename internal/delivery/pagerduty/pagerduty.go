// Package pagerduty pages through PagerDuty's Events API v2: a `trigger`
// when an incident opens or re-opens, deduplicated by the incident's
// fingerprint (dedup_key), so every later change of the same incident
// updates the same PagerDuty incident; a `resolve` when its episode ends.
// The routing key is a secret reference; text from logs is redacted and
// rendered inert before it leaves.
package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"net/http"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/send"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Config is one PagerDuty service integration.
type Config struct {
	Name string
	// RoutingKey is a reference to the integration's routing key.
	RoutingKey  string
	URL         string // DefaultURL unless set (a proxy, a test)
	MaxAttempts int
}

// Sink sends events to one integration.
type Sink struct {
	cfg     Config
	sender  send.Sender
	secrets delivery.Secrets
	red     *redact.Redactor
}

// New makes the sink; client is the egress transport's.
func New(cfg Config, client *http.Client, st delivery.Secrets) (*Sink, error) {
	if cfg.RoutingKey == "" {
		return nil, errors.New("pagerduty: routing_key (a secret reference) is required")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if _, err := send.CheckURL("pagerduty "+cfg.Name, cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "pagerduty"
	}
	return &Sink{cfg: cfg, secrets: st, red: redact.New(redact.DefaultOptions()),
		sender: send.New(client)}, nil
}

// Name implements delivery.Notifier.
func (s *Sink) Name() string { return s.cfg.Name }

// severity maps an incident's severity to PagerDuty's four.
func severity(sev domain.Severity) string {
	switch {
	case sev >= domain.Critical:
		return "critical"
	case sev >= domain.Error:
		return "error"
	case sev >= domain.Warning:
		return "warning"
	}
	return "info"
}

type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *payload `json:"payload,omitempty"`
	Links       []link   `json:"links,omitempty"`
}

type payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     time.Time      `json:"timestamp"`
	Component     string         `json:"component,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// class is what kind of problem PagerDuty groups by: the rule that
// opened the incident.
func class(in domain.Incident) string {
	if in.Why != nil && in.Why.Rule != "" {
		return string(in.Why.Rule)
	}
	if len(in.Reasons) > 0 {
		return string(in.Reasons[0])
	}
	return ""
}

func (s *Sink) text(t string) string { return inert.Markdown{}.Text(s.red.Redact(t)) }

// Notify implements delivery.Notifier. The thread is the dedup_key
// PagerDuty answers with: the incident's fingerprint.
func (s *Sink) Notify(ctx context.Context, n delivery.Notification, thread string) (string, error) {
	key, err := s.secrets.Get(ctx, s.cfg.RoutingKey)
	if err != nil {
		return thread, fmt.Errorf("pagerduty %s: routing key: %w", s.cfg.Name, err)
	}
	in := n.Incident
	ev := event{RoutingKey: key, EventAction: "trigger", DedupKey: string(in.Fingerprint)}
	if n.Transition == delivery.Resolved {
		ev.EventAction = "resolve"
	} else {
		tmpl := ""
		if len(in.Templates) > 0 {
			tmpl = in.Templates[0].Text
		}
		summary := s.text(fmt.Sprintf("%s: %s (%d events)", in.Service, tmpl, in.Count))
		if len(summary) > 1024 { // the API's bound
			summary = strings.ToValidUTF8(summary[:1021], "") + "..."
		}
		details := map[string]any{"incident": string(in.Fingerprint), "events": in.Count, "first_seen": in.FirstSeen, "last_seen": in.LastSeen,
			"transition": string(n.Transition)}
		var reasons []string
		for _, r := range in.Reasons {
			reasons = append(reasons, string(r))
		}
		details["reasons"] = reasons
		if r := n.Run; r != nil {
			if r.Triage != nil {
				details["category"] = s.text(r.Triage.Category)
			}
			if r.Analysis != nil {
				details["root_cause"] = s.text(r.Analysis.RootCause)
			}
			if r.Delivery != nil && r.Delivery.Location != "" {
				ev.Links = append(ev.Links, link{Href: r.Delivery.Location, Text: "Proposed change"})
			}
		}
		if n.DashboardURL != "" {
			ev.Links = append(ev.Links, link{Href: n.DashboardURL, Text: "Incident in the SRE agent"})
		}
		ev.Payload = &payload{Summary: summary, Source: s.text(in.Service), Severity: severity(in.Severity), Timestamp: in.FirstSeen.UTC(),
			Component: s.text(in.Service), Class: class(in), CustomDetails: details}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return thread, err
	}
	resp, err := s.sender.Post(ctx, send.Request{Name: "pagerduty " + s.cfg.Name, URL: s.cfg.URL, Body: body, MaxAttempts: s.cfg.MaxAttempts})
	if err != nil {
		return thread, err
	}
	var ack struct {
		Status   string `json:"status"`
		DedupKey string `json:"dedup_key"`
	}
	if json.Unmarshal(resp.Body, &ack) == nil && ack.DedupKey != "" {
		return ack.DedupKey, nil
	}
	return ev.DedupKey, nil
}

// Check resolves the routing key and checks its form (32 letters and
// digits, as PagerDuty issues them) and that the endpoint is https. The
// Events API has no call that checks a key without sending an event.
func (s *Sink) Check(ctx context.Context) ([]string, error) {
	if _, err := send.CheckURL("pagerduty "+s.cfg.Name, s.cfg.URL); err != nil {
		return nil, err
	}
	key, err := s.secrets.Get(ctx, s.cfg.RoutingKey)
	if err != nil {
		return nil, fmt.Errorf("pagerduty %s: routing key: %w", s.cfg.Name, err)
	}
	if len(key) != 32 || strings.IndexFunc(key, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') }) >= 0 {
		return nil, fmt.Errorf("pagerduty %s: the routing key is not an Events API v2 integration key (32 letters and digits)", s.cfg.Name)
	}
	return nil, nil
}
