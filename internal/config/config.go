// Package config is the agent's one configuration tree: defaults and
// validation live here and nowhere else.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/coderef"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
)

// Config is the whole configuration.
type Config struct {
	Store    Store           `yaml:"store"`
	Redact   redact.Options  `yaml:"redact"`
	Template template.Config `yaml:"template"`
	Detect   detect.Config   `yaml:"detect"`
	Parse    parse.Config    `yaml:"parse"`
	Sources  []Source        `yaml:"sources"`
	Pipeline Pipeline        `yaml:"pipeline"`
	Provider Provider        `yaml:"provider"`
	Policy   policy.Config   `yaml:"policy"`
	Delivery Delivery        `yaml:"delivery"`
	Audit    Audit           `yaml:"audit"`
	HTTP     HTTP            `yaml:"http"`
	Tracing  Tracing         `yaml:"tracing"`
	Log      Log             `yaml:"log"`
	// FlushEvery is how often the daemon saves what its sources found.
	FlushEvery time.Duration `yaml:"flush_every"`
	// Mode is development (the default) or production: production refuses
	// env:// secrets unless secrets.allow_env_in_production.
	Mode    string        `yaml:"mode"`
	Secrets Secrets       `yaml:"secrets"`
	Egress  egress.Config `yaml:"egress"`
	GitHub  GitHub        `yaml:"github"`
	// Repos map services to the repositories they are built from, for
	// grounded analysis (a local checkout per entry).
	Repos []coderef.Repo `yaml:"repos"`
	// CodeBudget bounds the repository code put in a prompt, in bytes.
	CodeBudget int `yaml:"code_budget_bytes"`
	// Dashboard is the read-only web UI served on http.addr.
	Dashboard Dashboard `yaml:"dashboard"`
	// Notify tells people in chat, paging and webhooks (docs/NOTIFICATIONS.md).
	Notify Notify `yaml:"notify"`
	// Silences are permanent silences; `sre-agent silence add` makes
	// timed ones (README: tuning and silencing).
	Silences []Silence `yaml:"silences"`
	// Links say where an incident's log query and traces are shown
	// (URL templates); empty, Google Cloud's consoles for evidence from
	// Google Cloud (docs/CONFIG.md lists the placeholders).
	Links links.Links `yaml:"links"`
	// MCP serves incidents to AI assistants over the Model Context
	// Protocol at /mcp on the dashboard's listener (docs/MCP.md).
	MCP MCP `yaml:"mcp"`
}

// MCP configures the Model Context Protocol endpoint. It answers with the
// dashboard's authentication beyond loopback, and checks Origin and Host
// on loopback; `sre-agent mcp` serves the same tools on stdio.
type MCP struct {
	// Disabled turns /mcp off (stdio is unaffected).
	Disabled bool `yaml:"disabled"`
	// AllowedOrigins are browser origins (https://host[:port]) allowed to
	// call /mcp besides loopback pages; none by default.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Dashboard configures the web UI. On a loopback http.addr it is open to
// whoever reaches the port; beyond loopback every page needs the bearer
// token or a verified Identity-Aware Proxy assertion, and with neither
// nothing is served.
type Dashboard struct {
	// Disabled turns the UI off (health and metrics stay).
	Disabled bool `yaml:"disabled"`
	// Addr gives the UI its own listener (127.0.0.1:9470 for kubectl
	// port-forward while http.addr serves metrics on the pod's address);
	// empty shares http.addr.
	Addr string `yaml:"addr"`
	// Token is a secret reference to the bearer token.
	Token string `yaml:"token"`
	// IAPAudience is the audience of the IAP assertions to accept
	// (/projects/NUMBER/global/backendServices/ID, or
	// /projects/NUMBER/apps/PROJECT for App Engine).
	IAPAudience string `yaml:"iap_audience"`
}

// Secrets tunes secret references.
type Secrets struct {
	// TTL is how long a secret's value is used before it is read again
	// (rotation is picked up within it).
	TTL time.Duration `yaml:"ttl"`
	// AllowEnvInProduction lets env:// references through in production
	// mode (not recommended: the environment leaks into crash dumps and
	// child processes).
	AllowEnvInProduction bool `yaml:"allow_env_in_production"`
}

// GitHub names the credential pull requests are opened with.
type GitHub struct {
	// Token is a secret reference to a fine-grained PAT (or a classic one,
	// with a warning).
	Token string `yaml:"token"`
	// BaseURL is GitHub's API (https://api.github.com, or
	// https://HOST/api/v3/ for Enterprise Server).
	BaseURL string `yaml:"base_url"`
}

// SecretRefs are the secret references the config names, by setting: the
// one list the secret store, the validation and the doctor use.
func (c Config) SecretRefs() map[string]string {
	out := map[string]string{}
	for field, ref := range map[string]string{
		"store.dsn":                   c.Store.DSN,
		"dashboard.token":             c.Dashboard.Token,
		"github.token":                c.GitHub.Token,
		"delivery.github.token":       c.Delivery.GitHub.Token,
		"delivery.github.private_key": c.Delivery.GitHub.PrivateKey,
		"delivery.gitlab.token":       c.Delivery.GitLab.Token,
	} {
		if ref != "" {
			out[field] = ref
		}
	}
	for _, name := range ProviderNames {
		if key := Providers[name].Key; key != nil {
			if field, ref := key(c.Provider); ref != "" {
				out[field] = ref
			}
		}
	}
	c.Notify.secretRefs(out)
	return out
}

// Production reports production mode.
func (c Config) Production() bool { return c.Mode == "production" }

// Store configures the incident store.
type Store struct {
	// Type is sqlite (one agent; the default) or postgres (replicas
	// sharing one subscription and one database).
	Type string `yaml:"type"`
	// Path of the SQLite file; empty means the user's state directory.
	Path string `yaml:"path"`
	// DSN is a secret reference to the PostgreSQL connection string
	// (postgres://user:password@host:5432/db?sslmode=verify-full).
	DSN string `yaml:"dsn"`
	// Replica names this process among the replicas (audit chains, leases,
	// source shares); empty means $SRE_AGENT_REPLICA, else the host name
	// (the pod name on Kubernetes). It may not contain '|' or '@'.
	Replica string `yaml:"replica"`
	// LeaseTTL is how long a replica's claim on an incident lasts without
	// a heartbeat: how soon another replica finishes the work of one that
	// died, and takes over the errors it held. At least three flush_every.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Source is one input of the daemon.
type Source struct {
	Type string `yaml:"type"` // file, stdin, pubsub or url
	// Path is the file to read (type file).
	Path string `yaml:"path"`
	// Follow keeps reading a file as it grows and across rotation, until
	// the agent stops; without it the file is read to its end.
	Follow bool `yaml:"follow"`
	// FromEnd starts a followed file at its end.
	FromEnd bool `yaml:"from_end"`
	// Service names events that do not name their own; the file's name
	// by default.
	Service string `yaml:"service"`
	// PubSub is a Google Cloud Pub/Sub subscription (type pubsub).
	PubSub PubSub `yaml:"pubsub"`
	// URL is a gocloud.dev subscription URL (type url): awssqs://,
	// azuresb://, kafka://, nats://.
	URL string `yaml:"url"`
	// Decode says what messages hold (pubsub: logentry; url: auto).
	Decode envelope.Options `yaml:"decode"`
	// DeadLetter is where messages that are not log messages go: a
	// Pub/Sub topic (pubsub.dead_letter_topic), a gocloud topic URL, or by
	// default the quarantine file in the state directory.
	DeadLetterURL string `yaml:"dead_letter_url"`
}

// DecodeFor is the source's decode options with its type's defaults.
func (s Source) DecodeFor() envelope.Options {
	d := s.Decode
	def := envelope.DefaultOptions()
	if d.Format == "" {
		d.Format = def.Format
		if s.Type == "pubsub" {
			d.Format = envelope.FormatLogEntry
		}
	}
	if d.MaxBytes == 0 {
		d.MaxBytes = def.MaxBytes
	}
	if d.MaxInflated == 0 {
		d.MaxInflated = max(def.MaxInflated, d.MaxBytes)
	}
	return d
}

// Provider chooses the model provider.
type Provider struct {
	// Name is the primary provider: offline (the default), gemini,
	// openai, anthropic or ollama.
	Name string `yaml:"name"`
	// Fallbacks are tried in order when the primary fails; the offline
	// provider answers last, and when the budget is spent.
	Fallbacks []string `yaml:"fallbacks"`
	// AllowThirdParty must be true for any provider that sends data to a
	// third party (gemini, openai, anthropic; ollama is self-hosted).
	AllowThirdParty bool `yaml:"allow_third_party"`
	// Timeout bounds one model call.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is how often a failed call is tried again (429, 5xx,
	// timeouts) before the next fallback answers.
	MaxRetries int `yaml:"max_retries"`
	// DailyTokens and DailyCostUSD are the day's budget (UTC); once spent,
	// the offline provider answers until midnight (0: no budget).
	DailyTokens  int64   `yaml:"daily_tokens"`
	DailyCostUSD float64 `yaml:"daily_cost_usd"`
	// Prices by model, US dollars per million tokens.
	Prices    map[string]Price `yaml:"prices"`
	Gemini    GeminiProvider   `yaml:"gemini"`
	OpenAI    HTTPProvider     `yaml:"openai"`
	Anthropic HTTPProvider     `yaml:"anthropic"`
	Ollama    HTTPProvider     `yaml:"ollama"`
}

// GeminiProvider is Vertex AI (ambient identity) or the Gemini API (key).
type GeminiProvider struct {
	// Vertex uses Vertex AI with the ambient identity
	// (roles/aiplatform.user) instead of a Gemini API key.
	Vertex bool `yaml:"vertex"`
	// Project is the Google Cloud project for Vertex AI.
	Project string `yaml:"project"`
	// Location is the Vertex AI region.
	Location string `yaml:"location"`
	APIKey   string `yaml:"api_key"` // a secret reference
	// Model is the default model (pipeline.models overrides it per stage).
	Model   string `yaml:"model"`
	BaseURL string `yaml:"base_url"` // a private endpoint; empty: Google's
	// RequestsPerSecond and TokensPerMinute limit calls (0: none).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	TokensPerMinute   int     `yaml:"tokens_per_minute"`
}

// HTTPProvider is an API reached by URL with an optional key.
type HTTPProvider struct {
	// BaseURL is the API's address (https; plain http only to loopback,
	// for a local Ollama).
	BaseURL string `yaml:"base_url"`
	APIKey  string `yaml:"api_key"` // a secret reference
	// Model is the default model (pipeline.models overrides it per stage).
	Model string `yaml:"model"`
	// RequestsPerSecond and TokensPerMinute limit calls (0: none).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	TokensPerMinute   int     `yaml:"tokens_per_minute"`
}

// ProviderFact is what the agent knows about a provider kind: the one
// table config validation, doctor and the wiring read.
type ProviderFact struct {
	// ThirdParty: incident data goes to someone else's service.
	ThirdParty bool
	// InProcess: nothing leaves the machine (the offline rules).
	InProcess bool
	// Endpoint is the provider's base URL setting and its value.
	Endpoint func(Provider) (field, url string)
	// Key is the provider's API key setting and its reference.
	Key func(Provider) (field, ref string)
}

// Providers are the providers this build has.
var Providers = map[string]ProviderFact{
	"offline": {InProcess: true},
	"gemini": {ThirdParty: true,
		Endpoint: func(p Provider) (string, string) { return "provider.gemini.base_url", p.Gemini.BaseURL },
		Key:      func(p Provider) (string, string) { return "provider.gemini.api_key", p.Gemini.APIKey }},
	"openai": {ThirdParty: true,
		Endpoint: func(p Provider) (string, string) { return "provider.openai.base_url", p.OpenAI.BaseURL },
		Key:      func(p Provider) (string, string) { return "provider.openai.api_key", p.OpenAI.APIKey }},
	"anthropic": {ThirdParty: true,
		Endpoint: func(p Provider) (string, string) { return "provider.anthropic.base_url", p.Anthropic.BaseURL },
		Key:      func(p Provider) (string, string) { return "provider.anthropic.api_key", p.Anthropic.APIKey }},
	// Ollama is self-hosted: data goes to the operator's own server.
	"ollama": {
		Endpoint: func(p Provider) (string, string) { return "provider.ollama.base_url", p.Ollama.BaseURL },
		Key:      func(p Provider) (string, string) { return "provider.ollama.api_key", p.Ollama.APIKey }},
}

// ProviderNames lists the providers this build has, in a fixed order.
var ProviderNames = []string{"offline", "gemini", "openai", "anthropic", "ollama"}

// ThirdParty reports whether a provider sends data to a third party.
func ThirdParty(name string) bool { return Providers[name].ThirdParty }

// Chain is the primary provider and its fallbacks, in order.
func (p Provider) Chain() []string { return append([]string{p.Name}, p.Fallbacks...) }

// Delivery chooses where proposals go.
type Delivery struct {
	Type string `yaml:"type"` // local, github or gitlab
	// Also are more targets each proposal goes to beside the primary
	// (type), e.g. [local] for a report on disk beside a pull request;
	// their failures are logged and never block the primary.
	Also   []string     `yaml:"also"`
	Local  LocalTarget  `yaml:"local"`
	GitHub GitHubTarget `yaml:"github"`
	GitLab GitLabTarget `yaml:"gitlab"`
}

// Audit configures the audit log.
type Audit struct {
	// Path of the JSON-lines log; empty means beside the store.
	Path string `yaml:"path"`
}

// HTTP configures the health and metrics endpoint.
type HTTP struct {
	// Addr to listen on; empty turns the endpoint off.
	Addr string `yaml:"addr"`
}

// Tracing configures OpenTelemetry traces.
type Tracing struct {
	Exporter string `yaml:"exporter"` // none, stdout or otlp
	// Endpoint is the OTLP/HTTP URL (https, or http to loopback only).
	Endpoint string `yaml:"endpoint"`
}

// Log configures the agent's own logs (JSON on stderr).
type Log struct {
	Level string `yaml:"level"` // debug, info, warn, error
	// Format is json, text, or auto (the default): text on a terminal,
	// JSON otherwise.
	Format string `yaml:"format"`
}

// DefaultHTTPAddr serves health and metrics on loopback only.
const DefaultHTTPAddr = "127.0.0.1:9469"

// Default is the embedded configuration: no cloud account, no key; the
// offline provider, local delivery into ./out.
func Default() Config {
	return Config{
		Store:    Store{Type: "sqlite", LeaseTTL: 30 * time.Second},
		Redact:   redact.DefaultOptions(),
		Template: template.DefaultConfig(),
		Detect:   detect.DefaultConfig(),
		Parse:    parse.DefaultConfig(),
		Pipeline: DefaultPipeline(),
		Notify:   Notify{Every: 30 * time.Second},
		Provider: Provider{Name: "offline", Timeout: time.Minute, MaxRetries: 2,
			Gemini: GeminiProvider{Location: "us-central1", Model: "gemini-2.5-flash"},
			OpenAI: HTTPProvider{Model: "gpt-4.1-mini"}, Anthropic: HTTPProvider{Model: "claude-sonnet-4-5"},
			Ollama: HTTPProvider{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.1"}},
		Policy:     policy.DefaultConfig(),
		Delivery:   Delivery{Type: "local", Local: LocalTarget{Dir: "out"}},
		HTTP:       HTTP{Addr: DefaultHTTPAddr},
		Tracing:    Tracing{Exporter: "none"},
		Log:        Log{Level: "info"},
		FlushEvery: time.Second,
		Mode:       "development",
		CodeBudget: 12000,
		Secrets:    Secrets{TTL: 5 * time.Minute},
		GitHub:     GitHub{BaseURL: "https://api.github.com"},
	}
}

// Load reads a YAML file over the defaults; unknown keys are an error so a
// misspelt threshold is not silently ignored.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		// The user's default file, when there is one.
		if p := DefaultPath(); p != "" {
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		if err := refusePlaintextSecrets(b); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file keeps the defaults
			return cfg, fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	if err := ApplyEnv(&cfg, os.LookupEnv); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		if path == "" {
			return cfg, err
		}
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// DefaultPath is the user's config file: $XDG_CONFIG_HOME/sre-agent/
// config.yaml, else ~/.config/sre-agent/config.yaml ("" with no home).
func DefaultPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "sre-agent", "config.yaml")
}

// EnvPrefix starts the environment variables that set config keys.
const EnvPrefix = "SRE_AGENT_"

// EnvName is the variable that sets a key: SRE_AGENT_ and the key's path
// in capitals, with _ for the dots (detect.quiet: SRE_AGENT_DETECT_QUIET).
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// ApplyEnv sets every key whose variable is set: its value is read as
// YAML into the key (durations as 10m, lists as [a, b]). Keys inside
// lists are set by giving the whole list. A credential key must still be
// a secret reference (Validate checks).
func ApplyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	return applyEnv(reflect.ValueOf(cfg).Elem(), "", lookup)
}

func applyEnv(v reflect.Value, prefix string, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		path := prefix + tag
		fv := v.Field(i)
		if val, ok := lookup(EnvName(path)); ok {
			if err := yaml.Unmarshal([]byte(val), fv.Addr().Interface()); err != nil {
				return fmt.Errorf("%s: %s: %w", EnvName(path), path, err)
			}
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			if err := applyEnv(fv, path+".", lookup); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate reports the first setting out of range; each part checks its
// own settings.
func (c Config) Validate() error {
	for _, v := range []interface{ Validate() error }{c.Template, c.Detect, c.Parse, c.Pipeline, c.Policy, c.Notify, c.Links} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	for _, n := range c.Provider.Chain() {
		if _, known := Providers[n]; !known {
			return fmt.Errorf("provider: unknown provider %q (this build has: %s)", n, strings.Join(ProviderNames, ", "))
		}
		if ThirdParty(n) && !c.Provider.AllowThirdParty {
			return fmt.Errorf("provider %s sends incident data to a third party: set provider.allow_third_party: true to use it", n)
		}
	}
	for field, ref := range c.SecretRefs() {
		if _, err := secrets.Parse(ref); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	switch c.Tracing.Exporter {
	case "none", "stdout":
	case "otlp":
		if c.Tracing.Endpoint == "" {
			return errors.New("tracing: the otlp exporter needs an endpoint")
		}
	default:
		return fmt.Errorf("tracing: unknown exporter %q (none, stdout or otlp)", c.Tracing.Exporter)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log: unknown level %q (debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "auto", "json", "text":
	default:
		return fmt.Errorf("log: unknown format %q (auto, json or text)", c.Log.Format)
	}
	if c.FlushEvery <= 0 {
		return errors.New("flush_every must be positive")
	}
	if _, err := coderef.NewMap(c.Repos); err != nil {
		return err
	}
	switch c.Mode {
	case "development", "production":
	default:
		return fmt.Errorf("mode %q: want development or production", c.Mode)
	}
	if c.Secrets.TTL <= 0 {
		return errors.New("secrets.ttl must be positive")
	}
	if _, err := c.ConfigSilences(); err != nil {
		return err
	}
	return nil
}

// credentialKeys name settings that hold credentials: their values must
// be secret references.
var credentialKeys = []string{"token", "password", "passwd", "secret", "api_key", "apikey", "access_key", "secret_key",
	"private_key", "client_secret", "connection_string", "dsn", "credentials", "routing_key", "webhook_url"}

// refusePlaintextSecrets walks the YAML: a credential setting must hold a
// secret reference, and no value anywhere may look like a credential.
func refusePlaintextSecrets(b []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil // the decoder reports it
	}
	red := redact.New(redact.Options{})
	var walk func(n *yaml.Node, path string) error
	walk = func(n *yaml.Node, path string) error {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := path
				if n.Kind == yaml.SequenceNode {
					p = fmt.Sprintf("%s[%d]", path, i)
				}
				if err := walk(c, p); err != nil {
					return err
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := strings.TrimPrefix(path+"."+k.Value, ".")
				if v.Kind == yaml.ScalarNode && v.Value != "" && isCredentialKey(k.Value) && !secrets.IsRef(v.Value) {
					return fmt.Errorf("%s holds a plaintext credential (%s); name a secret reference instead (gcpsm://, awssm://, azkv://, file://, env://)", p, secrets.Describe(v.Value))
				}
				if err := walk(v, p); err != nil {
					return err
				}
			}
		case yaml.ScalarNode:
			if kinds := red.Find(n.Value); len(kinds) > 0 && !secrets.IsRef(n.Value) {
				return fmt.Errorf("%s looks like a %s; credentials belong in a secret manager, named by reference", path, kinds[0])
			}
		}
		return nil
	}
	return walk(&root, "")
}

func isCredentialKey(k string) bool {
	k = strings.ToLower(k)
	for _, c := range credentialKeys {
		if k == c || strings.HasSuffix(k, "_"+c) {
			return true
		}
	}
	return false
}
