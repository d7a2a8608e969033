// Package googlechat posts incidents to a Google Chat space through an
// incoming webhook, one thread per incident: every message carries the
// incident's fingerprint as its threadKey, so the first opens the thread
// and each later change (triaged, root cause, change proposed, resolved,
// re-opened) replies in it. The webhook URL holds the space's key and
// token, so the config gives it as a secret reference. Text from logs is
// redacted and made inert for Chat's syntax: no <users/all> mention, no
// <url|text> link, no *bold* markup it did not write.
package googlechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/send"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// Config is one space's incoming webhook.
type Config struct {
	Name string
	// WebhookURL is a reference to the webhook's URL (it carries the key
	// and token).
	WebhookURL  string
	MaxAttempts int
}

// Sink posts to one space.
type Sink struct {
	cfg     Config
	sender  send.Sender
	secrets delivery.Secrets
	red     *redact.Redactor
}

// New makes the sink; client is the egress transport's.
func New(cfg Config, client *http.Client, st delivery.Secrets) (*Sink, error) {
	if cfg.WebhookURL == "" {
		return nil, errors.New("googlechat: webhook_url (a secret reference) is required")
	}
	if cfg.Name == "" {
		cfg.Name = "googlechat"
	}
	return &Sink{cfg: cfg, secrets: st, red: redact.New(redact.DefaultOptions()),
		sender: send.New(client)}, nil
}

// Name implements delivery.Notifier.
func (s *Sink) Name() string { return s.cfg.Name }

func (s *Sink) text(t string) string { return inert.Chat(s.red.Redact(t), 2000) }

var headings = map[delivery.Transition]string{
	delivery.Opened: "Incident opened", delivery.Triaged: "Triaged", delivery.RootCause: "Root cause",
	delivery.Proposed: "Change proposed", delivery.Resolved: "Resolved", delivery.Reopened: "Re-opened",
}

// message is the text of one change: what the agent writes is plain, what
// came from logs or a model is inert.
func (s *Sink) message(n delivery.Notification) string {
	in := n.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* · %s · %s · %d events\n", headings[n.Transition], s.text(in.Service), in.Severity, in.Count)
	if len(in.Templates) > 0 {
		fmt.Fprintf(&b, "%s\n", s.text(in.Templates[0].Text))
	}
	if r := n.Run; r != nil {
		if r.Triage != nil && n.Transition == delivery.Triaged {
			fmt.Fprintf(&b, "Category: %s (actionable: %t)\n", s.text(r.Triage.Category), r.Triage.Actionable)
		}
		if r.Analysis != nil && (n.Transition == delivery.RootCause || n.Transition == delivery.Opened) {
			fmt.Fprintf(&b, "Root cause: %s\n", s.text(r.Analysis.RootCause))
		}
		if r.Delivery != nil && r.Delivery.Location != "" {
			fmt.Fprintf(&b, "Change: %s\n", r.Delivery.Location)
		}
	}
	if n.DashboardURL != "" {
		fmt.Fprintf(&b, "Incident: %s\n", n.DashboardURL)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Notify implements delivery.Notifier: the thread is the Chat thread's
// resource name the first message made.
func (s *Sink) Notify(ctx context.Context, n delivery.Notification, thread string) (string, error) {
	u, err := send.WebhookURL(ctx, s.secrets, "googlechat "+s.cfg.Name, s.cfg.WebhookURL)
	if err != nil {
		return thread, err
	}
	q := u.Query()
	q.Set("threadKey", string(n.Incident.Fingerprint))
	q.Set("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
	u.RawQuery = q.Encode()
	body, err := json.Marshal(map[string]any{"text": s.message(n)})
	if err != nil {
		return thread, err
	}
	resp, err := s.sender.Post(ctx, send.Request{Name: "googlechat " + s.cfg.Name, URL: u.String(), Body: body, MaxAttempts: s.cfg.MaxAttempts})
	if err != nil {
		return thread, err
	}
	var m struct {
		Thread struct {
			Name string `json:"name"`
		} `json:"thread"`
	}
	if json.Unmarshal(resp.Body, &m) == nil && m.Thread.Name != "" {
		return m.Thread.Name, nil
	}
	return thread, nil
}

// Check resolves the webhook's URL and checks it is https.
func (s *Sink) Check(ctx context.Context) ([]string, error) {
	_, err := send.WebhookURL(ctx, s.secrets, "googlechat "+s.cfg.Name, s.cfg.WebhookURL)
	return nil, err
}
