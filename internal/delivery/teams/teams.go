// Package teams posts incidents to a Microsoft Teams channel through an
// incoming webhook (a Workflows "post to a channel when a webhook request
// is received" URL, or a legacy connector): each change is an Adaptive
// Card with the severity, service, leading template, count, root cause and
// links. A webhook cannot edit what it posted, so every change is a new
// card naming the incident; the agent says so rather than pretending to
// update. The URL carries its signature, so the config gives it as a
// secret reference. Text from logs is redacted and, since Adaptive Card
// TextBlocks render Markdown, made inert as Markdown.
package teams

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

// Config is one channel's incoming webhook.
type Config struct {
	Name string
	// WebhookURL is a reference to the webhook's URL.
	WebhookURL  string
	MaxAttempts int
}

// Sink posts cards to one channel.
type Sink struct {
	cfg     Config
	sender  send.Sender
	secrets delivery.Secrets
	red     *redact.Redactor
}

// New makes the sink; client is the egress transport's.
func New(cfg Config, client *http.Client, st delivery.Secrets) (*Sink, error) {
	if cfg.WebhookURL == "" {
		return nil, errors.New("teams: webhook_url (a secret reference) is required")
	}
	if cfg.Name == "" {
		cfg.Name = "teams"
	}
	return &Sink{cfg: cfg, secrets: st, red: redact.New(redact.DefaultOptions()), sender: send.New(client)}, nil
}

// Name implements delivery.Notifier.
func (s *Sink) Name() string { return s.cfg.Name }

func (s *Sink) text(t string) string { return inert.Markdown{}.Line(s.red.Redact(t)) }

var titles = map[delivery.Transition]string{
	delivery.Opened: "Incident opened", delivery.Triaged: "Incident triaged", delivery.RootCause: "Root cause found",
	delivery.Proposed: "Change proposed", delivery.Resolved: "Incident resolved", delivery.Reopened: "Incident re-opened",
}

func textBlock(t string, extra map[string]any) map[string]any {
	b := map[string]any{"type": "TextBlock", "text": t, "wrap": true}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// card is the Adaptive Card (schema 1.4) of one change.
func (s *Sink) card(n delivery.Notification) map[string]any {
	in := n.Incident
	color := "Attention"
	if n.Transition == delivery.Resolved {
		color = "Good"
	}
	facts := []map[string]string{
		{"title": "Service", "value": s.text(in.Service)},
		{"title": "Severity", "value": in.Severity.String()},
		{"title": "Events", "value": fmt.Sprint(in.Count)},
		{"title": "Incident", "value": in.Fingerprint.Short()},
	}
	body := []map[string]any{
		textBlock(titles[n.Transition], map[string]any{"weight": "Bolder", "size": "Medium", "color": color}),
		{"type": "FactSet", "facts": facts},
	}
	if len(in.Templates) > 0 {
		body = append(body, textBlock(s.text(in.Templates[0].Text), map[string]any{"fontType": "Monospace"}))
	}
	var actions []map[string]any
	if r := n.Run; r != nil {
		if r.Analysis != nil && r.Analysis.RootCause != "" {
			body = append(body, textBlock("Root cause: "+s.text(r.Analysis.RootCause), nil))
		}
		if r.Delivery != nil && strings.HasPrefix(r.Delivery.Location, "https://") {
			actions = append(actions, map[string]any{"type": "Action.OpenUrl", "title": "Proposed change", "url": r.Delivery.Location})
		}
	}
	if strings.HasPrefix(n.DashboardURL, "https://") {
		actions = append(actions, map[string]any{"type": "Action.OpenUrl", "title": "Open the incident", "url": n.DashboardURL})
	}
	body = append(body, textBlock("A webhook cannot update its cards: each change of this incident is a new card.", map[string]any{"isSubtle": true, "size": "Small"}))
	c := map[string]any{"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4", "body": body}
	if len(actions) > 0 {
		c["actions"] = actions
	}
	return c
}

// Notify implements delivery.Notifier; there is no thread to keep.
func (s *Sink) Notify(ctx context.Context, n delivery.Notification, thread string) (string, error) {
	u, err := send.WebhookURL(ctx, s.secrets, "teams "+s.cfg.Name, s.cfg.WebhookURL)
	if err != nil {
		return thread, err
	}
	body, err := json.Marshal(map[string]any{"type": "message", "attachments": []map[string]any{{
		"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": s.card(n)}}})
	if err != nil {
		return thread, err
	}
	if _, err := s.sender.Post(ctx, send.Request{Name: "teams " + s.cfg.Name, URL: u.String(), Body: body, MaxAttempts: s.cfg.MaxAttempts}); err != nil {
		return thread, err
	}
	return thread, nil
}

// Check resolves the webhook's URL and checks it is https.
func (s *Sink) Check(ctx context.Context) ([]string, error) {
	_, err := send.WebhookURL(ctx, s.secrets, "teams "+s.cfg.Name, s.cfg.WebhookURL)
	return nil, err
}
