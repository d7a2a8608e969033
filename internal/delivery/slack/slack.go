// Package slack tells a Slack channel about incidents, one conversation
// per incident. With a bot token (a secret reference; the app needs only
// chat:write) the first change posts a message with chat.postMessage;
// every later change updates that message in place (chat.update) so the
// channel shows the incident as it is now, and adds a reply in its thread
// saying what changed (triaged, root cause, change proposed, resolved,
// re-opened; resolving and re-opening are also shown in the channel).
// Teams without a bot give an incoming webhook's URL instead: Slack offers
// such webhooks no update and no thread, so each change is a new message,
// and the messages say so.
//
// Text from logs and models is redacted and rendered inert for Slack's
// mrkdwn: no <!channel> or <@U…> mention, no <url|text> link, no markup
// it did not write, URLs defanged.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/send"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Config is one channel.
type Config struct {
	Name string
	// Token is a reference to a bot token (xoxb-…); Channel is the
	// channel's id (C…) or name.
	Token   string
	Channel string
	// WebhookURL is a reference to an incoming webhook's URL, for teams
	// without a bot; used when Token is empty.
	WebhookURL  string
	APIURL      string // DefaultAPIURL unless set (a proxy, a test)
	MaxAttempts int
}

// Sink posts to one channel.
type Sink struct {
	cfg     Config
	client  *http.Client
	sender  send.Sender
	secrets delivery.Secrets
	red     *redact.Redactor
	sleep   func(context.Context, time.Duration) error
}

// New makes the sink; client is the egress transport's.
func New(cfg Config, client *http.Client, st delivery.Secrets) (*Sink, error) {
	switch {
	case cfg.Token != "" && cfg.Channel == "":
		return nil, errors.New("slack: channel is required with a bot token")
	case cfg.Token == "" && cfg.WebhookURL == "":
		return nil, errors.New("slack: token (a bot token's secret reference) or webhook_url (an incoming webhook's) is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if _, err := send.CheckURL("slack "+cfg.Name+" api_url", cfg.APIURL); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.Name == "" {
		cfg.Name = "slack"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = send.DefaultAttempts
	}
	return &Sink{cfg: cfg, client: client, secrets: st, red: redact.New(redact.DefaultOptions()),
		sender: send.New(client), sleep: backoff.Sleep}, nil
}

// Name implements delivery.Notifier.
func (s *Sink) Name() string { return s.cfg.Name }

// Updates reports whether the sink can update its messages (a bot) or
// only post new ones (an incoming webhook).
func (s *Sink) Updates() bool { return s.cfg.Token != "" }

// Notify implements delivery.Notifier. The thread is "channel/ts" of the
// incident's first message; an incoming webhook keeps none.
func (s *Sink) Notify(ctx context.Context, n delivery.Notification, thread string) (string, error) {
	if s.cfg.Token == "" {
		return "", s.hook(ctx, n)
	}
	api, err := s.api(ctx)
	if err != nil {
		return thread, err
	}
	meta := slackapi.MsgOptionMetadata(slackapi.SlackMetadata{EventType: "sre_agent_incident",
		EventPayload: map[string]any{"fingerprint": string(n.Incident.Fingerprint), "transition": string(n.Transition), "key": n.Key}})
	blocks := s.blocks(n, true)
	fallback := slackapi.MsgOptionText(s.summary(n), false)
	if ch, ts, ok := strings.Cut(thread, "/"); ok {
		err := s.call(ctx, func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slackapi.MsgOptionBlocks(blocks...), fallback)
			return err
		})
		var se slackapi.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "cant_update_message") {
			thread = "" // deleted by someone: start the conversation again
		} else if err != nil {
			return thread, fmt.Errorf("slack %s: chat.update: %w", s.cfg.Name, err)
		} else {
			opts := []slackapi.MsgOption{slackapi.MsgOptionTS(ts), slackapi.MsgOptionText(s.reply(n), false), meta}
			if n.Transition == delivery.Resolved || n.Transition == delivery.Reopened {
				opts = append(opts, slackapi.MsgOptionBroadcast())
			}
			err = s.call(ctx, func() error { _, _, err := api.PostMessageContext(ctx, ch, opts...); return err })
			if err != nil {
				return thread, fmt.Errorf("slack %s: chat.postMessage (reply): %w", s.cfg.Name, err)
			}
			return thread, nil
		}
	}
	var ch, ts string
	err = s.call(ctx, func() error {
		var err error
		ch, ts, err = api.PostMessageContext(ctx, s.cfg.Channel, slackapi.MsgOptionBlocks(blocks...), fallback, meta)
		return err
	})
	if err != nil {
		return thread, fmt.Errorf("slack %s: chat.postMessage: %w", s.cfg.Name, err)
	}
	return ch + "/" + ts, nil
}

func (s *Sink) api(ctx context.Context) (*slackapi.Client, error) {
	token, err := s.secrets.Get(ctx, s.cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("slack %s: token: %w", s.cfg.Name, err)
	}
	return slackapi.New(token, slackapi.OptionHTTPClient(s.client), slackapi.OptionAPIURL(s.cfg.APIURL)), nil
}

// call runs one Web API call, trying again on a rate limit (after
// Retry-After) and on a server error (after a backoff), up to the bound.
// Slack's refusals (not_in_channel, invalid_auth) are final.
func (s *Sink) call(ctx context.Context, f func() error) error {
	var err error
	for attempt := range s.cfg.MaxAttempts {
		if err = f(); err == nil {
			return nil
		}
		var wait time.Duration
		var rl *slackapi.RateLimitedError
		var sc slackapi.StatusCodeError
		switch {
		case errors.As(err, &rl):
			wait = rl.RetryAfter
		case errors.As(err, &sc) && (sc.Code >= 500 || sc.Code == http.StatusTooManyRequests):
			wait = time.Duration(1<<attempt) * time.Second
		default:
			return err
		}
		if attempt+1 == s.cfg.MaxAttempts {
			break
		}
		if serr := s.sleep(ctx, wait); serr != nil {
			return serr
		}
	}
	return err
}

// hook posts to an incoming webhook: a new message per change.
func (s *Sink) hook(ctx context.Context, n delivery.Notification) error {
	u, err := send.WebhookURL(ctx, s.secrets, "slack "+s.cfg.Name, s.cfg.WebhookURL)
	if err != nil {
		return err
	}
	body, err := json.Marshal(slackapi.WebhookMessage{Text: s.summary(n), Blocks: &slackapi.Blocks{BlockSet: s.blocks(n, false)}})
	if err != nil {
		return err
	}
	_, err = s.sender.Post(ctx, send.Request{Name: "slack " + s.cfg.Name, URL: u.String(), Body: body, MaxAttempts: s.cfg.MaxAttempts})
	return err
}

// text renders untrusted text (a log template, a model's prose, a
// service name) for mrkdwn.
func (s *Sink) text(t string, max int) string { return inert.Chat(s.red.Redact(t), max) }

var headings = map[delivery.Transition]string{
	delivery.Opened: "Incident opened", delivery.Triaged: "Triaged", delivery.RootCause: "Root cause found",
	delivery.Proposed: "Change proposed", delivery.Resolved: "Resolved", delivery.Reopened: "Re-opened",
}

var marks = map[domain.Severity]string{domain.Critical: "🔴", domain.Error: "🟠", domain.Warning: "🟡"}

// summary is the notification's plain text: Slack's fallback for
// notifications and screen readers.
func (s *Sink) summary(n delivery.Notification) string {
	in := n.Incident
	return fmt.Sprintf("%s: %s %s, %d events", headings[n.Transition], in.Severity, s.text(in.Service, 100), in.Count)
}

// link is a mrkdwn link to a URL the agent made (the dashboard, the pull
// request it opened), never to one from a log; anything but an http(s)
// URL is left out.
func link(raw, label string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return "<" + strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(u.String()) + "|" + label + ">"
}

// blocks is the incident as it is now, the message every change updates:
// severity, service, count, leading template, triage, root cause, links.
func (s *Sink) blocks(n delivery.Notification, updates bool) []slackapi.Block {
	in := n.Incident
	mrk := func(t string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.MarkdownType, t, false, false)
	}
	state := headings[n.Transition]
	title := fmt.Sprintf("%s %s · %s", marks[in.Severity], in.Severity, inert.Chat(in.Service, 100))
	fields := []*slackapi.TextBlockObject{
		mrk("*State*\n" + state), mrk("*Severity*\n" + in.Severity.String()),
		mrk("*Service*\n" + s.text(strings.Join(services(in), ", "), 200)), mrk(fmt.Sprintf("*Events*\n%d", in.Count)),
		mrk("*First seen*\n" + in.FirstSeen.UTC().Format(time.RFC3339)), mrk("*Last seen*\n" + in.LastSeen.UTC().Format(time.RFC3339)),
	}
	if r := n.Run; r != nil && r.Triage != nil {
		fields = append(fields, mrk("*Category*\n"+s.text(r.Triage.Category, 100)))
	}
	out := []slackapi.Block{
		slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, strings.TrimSpace(title), false, false)),
		slackapi.NewSectionBlock(nil, fields, nil),
	}
	if len(in.Templates) > 0 {
		out = append(out, slackapi.NewSectionBlock(mrk("*Leading template*\n"+s.text(in.Templates[0].Text, 1500)), nil, nil))
	}
	if r := n.Run; r != nil && r.Analysis != nil && r.Analysis.RootCause != "" {
		out = append(out, slackapi.NewSectionBlock(mrk("*Root cause*\n"+s.text(r.Analysis.RootCause, 2000)), nil, nil))
	}
	var links []string
	if r := n.Run; r != nil && r.Delivery != nil {
		if l := link(r.Delivery.Location, "Proposed change"); l != "" {
			links = append(links, l)
		}
	}
	if l := link(n.DashboardURL, "Incident in the SRE agent"); l != "" {
		links = append(links, l)
	}
	foot := fmt.Sprintf("incident %s", in.Fingerprint)
	if !updates {
		foot += " · sent by an incoming webhook, which cannot update or thread messages: each change is a new message"
	}
	if len(links) > 0 {
		out = append(out, slackapi.NewSectionBlock(mrk(strings.Join(links, " · ")), nil, nil))
	}
	out = append(out, slackapi.NewContextBlock("", mrk(foot)))
	return out
}

// reply is the thread's line for one change.
func (s *Sink) reply(n delivery.Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*", headings[n.Transition])
	if r := n.Run; r != nil {
		switch n.Transition {
		case delivery.Triaged:
			if r.Triage != nil {
				fmt.Fprintf(&b, ": %s (actionable: %t)", s.text(r.Triage.Category, 100), r.Triage.Actionable)
			}
		case delivery.RootCause:
			if r.Analysis != nil {
				b.WriteString(": " + s.text(r.Analysis.RootCause, 2000))
			}
		case delivery.Proposed:
			if r.Delivery != nil {
				if l := link(r.Delivery.Location, "the proposed change"); l != "" {
					b.WriteString(": " + l)
				}
			}
		}
	}
	if n.Transition == delivery.Resolved || n.Transition == delivery.Reopened {
		fmt.Fprintf(&b, " (%d events so far)", n.Incident.Count)
	}
	return b.String()
}

func services(in domain.Incident) []string {
	if len(in.Services) > 0 {
		return in.Services
	}
	return []string{in.Service}
}

// Check reads the bot token and asks Slack whose it is (auth.test): it
// fails when the token is refused, and names any scope beyond what
// posting needs (chat:write, chat:write.public) as a finding.
func (s *Sink) Check(ctx context.Context) (extra []string, err error) {
	if s.cfg.Token == "" {
		_, err := send.WebhookURL(ctx, s.secrets, "slack "+s.cfg.Name, s.cfg.WebhookURL)
		return nil, err
	}
	api, err := s.api(ctx)
	if err != nil {
		return nil, err
	}
	var resp *slackapi.AuthTestResponse
	err = s.call(ctx, func() error { var err error; resp, err = api.AuthTestContext(ctx); return err })
	if err != nil {
		return nil, fmt.Errorf("slack %s: auth.test: %w", s.cfg.Name, err)
	}
	for _, sc := range strings.Split(resp.Header.Get("X-OAuth-Scopes"), ",") {
		switch sc = strings.TrimSpace(sc); sc {
		case "", "chat:write", "chat:write.public":
		default:
			extra = append(extra, sc)
		}
	}
	return extra, nil
}
