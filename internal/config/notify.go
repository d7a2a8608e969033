package config

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Notify says who is told about incidents and how: receivers (a Slack
// channel, a PagerDuty service, a Google Chat space, a Teams channel, a
// webhook) and a routing tree choosing them, in the manner of
// Alertmanager. Each receiver keeps one conversation per incident.
type Notify struct {
	// DashboardURL is the dashboard's address as people reach it
	// (https://sre.example.com); messages link each incident's page.
	DashboardURL string `yaml:"dashboard_url"`
	// Every is how often the agent looks for changes to tell beyond the
	// ones it made itself (another replica's, held ones); default 30s.
	Every     time.Duration `yaml:"every"`
	Receivers []Receiver    `yaml:"receivers"`
	Route     Route         `yaml:"route"`
}

// Enabled reports whether any receiver is configured.
func (n Notify) Enabled() bool { return len(n.Receivers) > 0 }

// Receiver is one place people are told, of exactly one kind.
type Receiver struct {
	// Name is how routes, `notify test` and the audit log name it.
	Name string `yaml:"name"`
	// RateLimit bounds the messages per hour to this receiver; changes
	// over it wait and are told together. Zero: no bound.
	RateLimit int `yaml:"rate_limit_per_hour"`
	// MaxAttempts bounds the tries of one message on 429 and 5xx
	// (default 4).
	MaxAttempts int `yaml:"max_attempts"`

	Slack      *SlackReceiver     `yaml:"slack"`
	PagerDuty  *PagerDutyReceiver `yaml:"pagerduty"`
	GoogleChat *ChatWebhook       `yaml:"googlechat"`
	Teams      *ChatWebhook       `yaml:"teams"`
	Webhook    *WebhookReceiver   `yaml:"webhook"`
}

// SlackReceiver is a channel, by bot token or incoming webhook.
type SlackReceiver struct {
	// Token is a secret reference to a bot token (xoxb-…, scope
	// chat:write); Channel the channel's id or name.
	Token   string `yaml:"token"`
	Channel string `yaml:"channel"`
	// WebhookURL is a secret reference to an incoming webhook's URL, for a
	// workspace without the bot (no updates, no threads).
	WebhookURL string `yaml:"webhook_url"`
	// APIURL is Slack's Web API (a proxy's, in tests a fake's); default
	// https://slack.com/api/.
	APIURL string `yaml:"api_url"`
}

// PagerDutyReceiver is a PagerDuty service's Events API v2 integration.
type PagerDutyReceiver struct {
	// RoutingKey is a secret reference to the integration key.
	RoutingKey string `yaml:"routing_key"`
	// URL is the Events API (default
	// https://events.pagerduty.com/v2/enqueue).
	URL string `yaml:"url"`
}

// ChatWebhook is an incoming webhook (Google Chat, Microsoft Teams
// Workflows); its URL carries a credential, so it is a secret reference.
type ChatWebhook struct {
	// WebhookURL is a secret reference to the incoming webhook's URL.
	WebhookURL string `yaml:"webhook_url"`
}

// WebhookReceiver is any HTTP endpoint.
type WebhookReceiver struct {
	// URL is the endpoint (https; plain http only to loopback).
	URL string `yaml:"url"`
	// Secret is a secret reference to the Standard Webhooks signing
	// secret (whsec_…).
	Secret string `yaml:"secret"`
	// Format is sre-agent (the default, docs/NOTIFICATIONS.md) or
	// alertmanager.
	Format string `yaml:"format"`
}

// Route is a node of the routing tree. An incident's change goes down the
// tree: at each node the first child that matches is taken (and the
// following ones too while a matching child says continue); where no
// child matches, the node's receiver gets it. Receiver and quiet hours
// are inherited from the parent when not set.
type Route struct {
	// Receiver gets the changes this route takes (inherited when empty).
	Receiver string `yaml:"receiver"`
	// Match is what the route takes (all of it must hold).
	Match Match `yaml:"match"`
	// Continue tries the following sibling routes too after this one
	// matched.
	Continue bool `yaml:"continue"`
	// QuietHours hold this route's messages (inherited when empty).
	QuietHours *QuietHours `yaml:"quiet_hours"`
	// Routes are the child routes, tried in order.
	Routes []Route `yaml:"routes"`
}

// Match is what a route takes; every given field must hold, each list
// holding when any of its values does. Services and label values are
// shell patterns (payments-*).
type Match struct {
	// Services: any of the incident's services (patterns).
	Services []string `yaml:"services"`
	// Severities: critical, error, warning, notice, info, debug.
	Severities []string `yaml:"severities"`
	// Categories: the triage category (empty until triaged).
	Categories []string `yaml:"categories"`
	// Labels: resource labels, values as patterns.
	Labels map[string]string `yaml:"labels"`
	// Transitions: opened, triaged, root-cause, proposed, resolved,
	// reopened.
	Transitions []string `yaml:"transitions"`
}

// QuietHours hold a route's messages between Start and End (HH:MM, in
// TimeZone, the local time zone when empty); they go out, folded into
// one, when the quiet hours end. Severities named in Except still go out.
type QuietHours struct {
	// Start and End are HH:MM; an End before Start spans midnight.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// TimeZone is an IANA zone (Europe/Berlin); empty: the local one.
	TimeZone string `yaml:"time_zone"`
	// Except are severities that go out anyway.
	Except []string `yaml:"except_severities"`
}

// Transitions are the changes a route can match.
var Transitions = []string{"opened", "triaged", "root-cause", "proposed", "resolved", "reopened"}

var severityNames = []string{"debug", "info", "notice", "warning", "error", "critical"}

// Validate checks the tree against the receivers; the receivers' own
// settings are checked by their kinds.
func (n Notify) Validate() error {
	if !n.Enabled() {
		if n.Route.Receiver != "" || len(n.Route.Routes) > 0 {
			return errors.New("notify.route: no receivers are configured")
		}
		return nil
	}
	if n.DashboardURL != "" && !strings.HasPrefix(n.DashboardURL, "https://") && !strings.HasPrefix(n.DashboardURL, "http://") {
		return fmt.Errorf("notify.dashboard_url %q: want an http(s) URL", n.DashboardURL)
	}
	if n.Every < 0 {
		return errors.New("notify.every: must not be negative")
	}
	names := map[string]bool{}
	for i, r := range n.Receivers {
		if r.Name == "" {
			return fmt.Errorf("notify.receivers[%d]: a name is required", i)
		}
		if names[r.Name] {
			return fmt.Errorf("notify.receivers[%d]: %q is named twice", i, r.Name)
		}
		if r.RateLimit < 0 || r.MaxAttempts < 0 {
			return fmt.Errorf("notify.receivers[%d] %s: rate_limit_per_hour and max_attempts must not be negative", i, r.Name)
		}
		names[r.Name] = true
	}
	if n.Route.Receiver == "" {
		return errors.New("notify.route.receiver: the root route needs a receiver (the default)")
	}
	return n.Route.validate("notify.route", names)
}

func (r Route) validate(at string, receivers map[string]bool) error {
	if r.Receiver != "" && !receivers[r.Receiver] {
		return fmt.Errorf("%s.receiver: no receiver is named %q", at, r.Receiver)
	}
	for _, s := range append(append([]string(nil), r.Match.Services...), mapValues(r.Match.Labels)...) {
		if _, err := path.Match(s, ""); err != nil {
			return fmt.Errorf("%s.match: pattern %q: %w", at, s, err)
		}
	}
	if err := oneOf(at+".match.severities", r.Match.Severities, severityNames); err != nil {
		return err
	}
	if err := oneOf(at+".match.transitions", r.Match.Transitions, Transitions); err != nil {
		return err
	}
	if q := r.QuietHours; q != nil {
		if _, _, _, err := q.Parse(); err != nil {
			return fmt.Errorf("%s.quiet_hours: %w", at, err)
		}
		if err := oneOf(at+".quiet_hours.except_severities", q.Except, severityNames); err != nil {
			return err
		}
	}
	for i, c := range r.Routes {
		if err := c.validate(fmt.Sprintf("%s.routes[%d]", at, i), receivers); err != nil {
			return err
		}
	}
	return nil
}

// Parse reads the quiet hours: minutes after midnight of the start and
// the end, and the time zone.
func (q QuietHours) Parse() (start, end int, loc *time.Location, err error) {
	clock := func(s string) (int, error) {
		t, err := time.Parse("15:04", s)
		if err != nil {
			return 0, fmt.Errorf("%q: want HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if start, err = clock(q.Start); err != nil {
		return
	}
	if end, err = clock(q.End); err != nil {
		return
	}
	loc = time.Local
	if q.TimeZone != "" {
		if loc, err = time.LoadLocation(q.TimeZone); err != nil {
			return
		}
	}
	return
}

func oneOf(at string, got, want []string) error {
	for _, g := range got {
		ok := false
		for _, w := range want {
			ok = ok || strings.EqualFold(g, w)
		}
		if !ok {
			return fmt.Errorf("%s: %q is not one of %s", at, g, strings.Join(want, ", "))
		}
	}
	return nil
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// secretRefs adds the secret references the receivers name, by field.
func (n Notify) secretRefs(out map[string]string) {
	for i, r := range n.Receivers {
		at := fmt.Sprintf("notify.receivers[%d].", i)
		add := func(field, ref string) {
			if ref != "" {
				out[at+field] = ref
			}
		}
		if r.Slack != nil {
			add("slack.token", r.Slack.Token)
			add("slack.webhook_url", r.Slack.WebhookURL)
		}
		if r.PagerDuty != nil {
			add("pagerduty.routing_key", r.PagerDuty.RoutingKey)
		}
		if r.GoogleChat != nil {
			add("googlechat.webhook_url", r.GoogleChat.WebhookURL)
		}
		if r.Teams != nil {
			add("teams.webhook_url", r.Teams.WebhookURL)
		}
		if r.Webhook != nil {
			add("webhook.secret", r.Webhook.Secret)
		}
	}
}

// Silence is a permanent silence kept in the config: incidents matching
// every matcher (name=value: service, severity, template, template_id,
// fingerprint, label.KEY; values are shell patterns) are recorded and
// counted, never triaged, delivered or notified.
type Silence struct {
	// Matchers are name=value conditions, all of which must hold.
	Matchers []string `yaml:"matchers"`
	// Comment says why (required).
	Comment string `yaml:"comment"`
	// Author is who decided it.
	Author string `yaml:"author"`
}

// ConfigSilences are the config's silences as the pipeline uses them.
func (c Config) ConfigSilences() ([]domain.Silence, error) {
	var out []domain.Silence
	for i, s := range c.Silences {
		sl := domain.Silence{ID: fmt.Sprintf("config-%d", i+1), Comment: s.Comment, Author: s.Author, Source: "config"}
		if len(s.Matchers) == 0 {
			return nil, fmt.Errorf("silences[%d]: at least one matcher (name=value) is required", i)
		}
		if s.Comment == "" {
			return nil, fmt.Errorf("silences[%d]: a comment saying why is required", i)
		}
		for _, m := range s.Matchers {
			pm, err := domain.ParseMatcher(m)
			if err != nil {
				return nil, fmt.Errorf("silences[%d]: %w", i, err)
			}
			sl.Matchers = append(sl.Matchers, pm)
		}
		out = append(out, sl)
	}
	return out, nil
}
