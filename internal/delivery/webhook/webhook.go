// Package webhook tells any HTTP receiver about incidents: a versioned
// JSON payload (docs/NOTIFICATIONS.md), signed by the Standard Webhooks
// scheme (HMAC-SHA256 over the message id, the timestamp and the body,
// with a secret given as a reference), retried on 429 and 5xx honouring
// Retry-After. With `format: alertmanager` the body is Alertmanager's
// webhook payload, so receivers made for it work unchanged.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/send"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// Version is the payload's schema version.
const Version = "1"

// Config is one webhook receiver.
type Config struct {
	Name string
	URL  string
	// Secret is a reference to the signing secret ("whsec_" and base64,
	// as Standard Webhooks writes it); empty sends unsigned.
	Secret string
	// Format is "sre-agent" (the default) or "alertmanager".
	Format      string
	MaxAttempts int
}

// Sink posts notifications to one URL.
type Sink struct {
	cfg     Config
	client  *http.Client
	secrets delivery.Secrets
	red     *redact.Redactor
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
}

// New makes the sink; client is the egress transport's.
func New(cfg Config, client *http.Client, st delivery.Secrets) (*Sink, error) {
	if cfg.URL == "" {
		return nil, errors.New("webhook: url is required")
	}
	if _, err := send.CheckURL("webhook "+cfg.Name, cfg.URL); err != nil {
		return nil, err
	}
	switch cfg.Format {
	case "":
		cfg.Format = "sre-agent"
	case "sre-agent", "alertmanager":
	default:
		return nil, fmt.Errorf("webhook: format %q: want sre-agent or alertmanager", cfg.Format)
	}
	if cfg.Name == "" {
		cfg.Name = "webhook"
	}
	return &Sink{cfg: cfg, client: client, secrets: st, red: redact.New(redact.DefaultOptions()), now: time.Now, sleep: backoff.Sleep}, nil
}

// Name implements delivery.Notifier.
func (s *Sink) Name() string { return s.cfg.Name }

// Payload is the sre-agent format, version 1.
type Payload struct {
	Version      string    `json:"version"`
	ID           string    `json:"id"`
	Type         string    `json:"type"` // incident.<transition>
	OccurredAt   time.Time `json:"occurred_at"`
	Incident     Incident  `json:"incident"`
	Triage       *Triage   `json:"triage,omitempty"`
	RootCause    string    `json:"root_cause,omitempty"`
	Proposal     string    `json:"proposal,omitempty"`
	ChangeURL    string    `json:"change_url,omitempty"`
	DashboardURL string    `json:"dashboard_url,omitempty"`
}

// Incident is what the payload says of an incident. Text from logs is
// redacted and rendered inert; it is data, never instructions.
type Incident struct {
	ID        string     `json:"id"`
	Service   string     `json:"service"`
	Services  []string   `json:"services,omitempty"`
	Severity  string     `json:"severity"`
	State     string     `json:"state"`
	Count     int64      `json:"count"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	Reasons   []string   `json:"reasons"`
	Templates []Template `json:"templates"`
	Samples   []string   `json:"samples,omitempty"`
}

// Template is one of the incident's templates.
type Template struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Count int64  `json:"count"`
}

// Triage is the first stage's answer.
type Triage struct {
	Category   string `json:"category"`
	Severity   string `json:"severity"`
	Actionable bool   `json:"actionable"`
}

// text makes untrusted text safe to forward: redacted, then inert.
func (s *Sink) text(t string) string { return inert.Markdown{}.Text(s.red.Redact(t)) }

func (s *Sink) payload(n delivery.Notification) Payload {
	in := n.Incident
	p := Payload{Version: Version, ID: n.Key, Type: "incident." + string(n.Transition), OccurredAt: s.now().UTC(),
		DashboardURL: n.DashboardURL,
		Incident: Incident{ID: string(in.Fingerprint), Service: s.text(in.Service), Severity: in.Severity.String(), State: string(in.State),
			Count: in.Count, FirstSeen: in.FirstSeen, LastSeen: in.LastSeen}}
	for _, svc := range in.Services {
		p.Incident.Services = append(p.Incident.Services, s.text(svc))
	}
	for _, r := range in.Reasons {
		p.Incident.Reasons = append(p.Incident.Reasons, string(r))
	}
	for _, t := range in.Templates {
		p.Incident.Templates = append(p.Incident.Templates, Template{ID: string(t.ID), Text: s.text(t.Text), Count: t.Count})
	}
	for _, smp := range in.Samples {
		p.Incident.Samples = append(p.Incident.Samples, s.text(smp))
	}
	if r := n.Run; r != nil {
		if r.Triage != nil {
			p.Triage = &Triage{Category: s.text(r.Triage.Category), Severity: s.text(r.Triage.Severity), Actionable: r.Triage.Actionable}
		}
		if r.Analysis != nil {
			p.RootCause = s.text(r.Analysis.RootCause)
		}
		if r.Remediation != nil {
			p.Proposal = s.text(r.Remediation.Summary)
		}
		if r.Delivery != nil {
			p.ChangeURL = r.Delivery.Location
		}
	}
	return p
}

// alertmanager is Alertmanager's webhook payload (version 4) with one
// alert: existing receivers take it unchanged.
func (s *Sink) alertmanager(n delivery.Notification) any {
	p := s.payload(n)
	status, ends := "firing", time.Time{}
	if n.Transition == delivery.Resolved {
		status, ends = "resolved", p.Incident.LastSeen
	}
	summary := ""
	if len(p.Incident.Templates) > 0 {
		summary = p.Incident.Templates[0].Text
	}
	labels := map[string]string{"alertname": "SREAgentIncident", "service": p.Incident.Service, "severity": p.Incident.Severity,
		"fingerprint": p.Incident.ID}
	ann := map[string]string{"summary": summary, "root_cause": p.RootCause, "change_url": p.ChangeURL}
	return map[string]any{
		"version": "4", "groupKey": "{}:{fingerprint=\"" + p.Incident.ID + "\"}", "truncatedAlerts": 0, "status": status,
		"receiver": s.cfg.Name, "groupLabels": map[string]string{"fingerprint": p.Incident.ID}, "commonLabels": labels,
		"commonAnnotations": ann, "externalURL": p.DashboardURL,
		"alerts": []map[string]any{{"status": status, "labels": labels, "annotations": ann, "startsAt": p.Incident.FirstSeen,
			"endsAt": ends, "generatorURL": p.DashboardURL, "fingerprint": p.Incident.ID}},
	}
}

// Notify implements delivery.Notifier. A webhook has no thread to keep:
// every change is one delivery, identified by the notification's key
// (the webhook-id header), so a receiver can drop a repeat.
func (s *Sink) Notify(ctx context.Context, n delivery.Notification, thread string) (string, error) {
	var v any = s.payload(n)
	if s.cfg.Format == "alertmanager" {
		v = s.alertmanager(n)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return thread, err
	}
	var signer *standardwebhooks.Webhook
	if s.cfg.Secret != "" {
		secret, err := s.secrets.Get(ctx, s.cfg.Secret)
		if err != nil {
			return thread, fmt.Errorf("webhook %s: secret: %w", s.cfg.Name, err)
		}
		if signer, err = standardwebhooks.NewWebhook(secret); err != nil {
			return thread, fmt.Errorf("webhook %s: the signing secret is not a Standard Webhooks secret", s.cfg.Name)
		}
	}
	_, err = send.Sender{Client: s.client, Now: s.now, Sleep: s.sleep}.Post(ctx, send.Request{Name: "webhook " + s.cfg.Name, URL: s.cfg.URL,
		Body: body, MaxAttempts: s.cfg.MaxAttempts, Header: func(h http.Header, now time.Time) error {
			h.Set("webhook-id", n.Key)
			h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
			if signer == nil {
				return nil
			}
			sig, err := signer.Sign(n.Key, now, body)
			h.Set("webhook-signature", sig)
			return err
		}})
	return thread, err
}

// Check checks the endpoint is https and the signing secret resolves to
// a Standard Webhooks secret; an unsigned webhook is a finding.
func (s *Sink) Check(ctx context.Context) ([]string, error) {
	if _, err := send.CheckURL("webhook "+s.cfg.Name, s.cfg.URL); err != nil {
		return nil, err
	}
	if s.cfg.Secret == "" {
		return []string{"unsigned: receivers cannot tell its payloads from forged ones (set secret)"}, nil
	}
	secret, err := s.secrets.Get(ctx, s.cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: secret: %w", s.cfg.Name, err)
	}
	if _, err := standardwebhooks.NewWebhook(secret); err != nil {
		return nil, fmt.Errorf("webhook %s: the signing secret is not a Standard Webhooks secret (whsec_ and base64)", s.cfg.Name)
	}
	return nil, nil
}
