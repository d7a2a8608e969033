// Package doctor audits the agent's own security posture: where its
// credentials come from, what they can do, where it connects, and whether
// its files and audit log are sound. Each check passes, warns or fails.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Status of a check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one line of the checklist.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Inputs are what the checks look at; functions are injectable for tests.
type Inputs struct {
	Config     config.Config
	ConfigPath string
	AuditPath  string
	// AuditChains, when set, verifies audit chains kept elsewhere than a
	// file (every replica's, in PostgreSQL) and says how many records.
	AuditChains func(ctx context.Context) (int, error)
	Secrets     *secrets.Store
	HTTP        *http.Client
	Getenv      func(string) string
	Geteuid     func() int
}

// Run runs every check.
func Run(ctx context.Context, in Inputs) []Check {
	if in.Getenv == nil {
		in.Getenv = os.Getenv
	}
	if in.Geteuid == nil {
		in.Geteuid = os.Geteuid
	}
	return []Check{
		secretRefs(in),
		secretFiles(in),
		configFile(in),
		githubToken(ctx, in),
		modelProviders(in),
		endpointsTLS(in),
		ambientIdentity(in),
		egressAllowlist(in),
		auditChain(in),
		webExposure(in),
		notRoot(in),
	}
}

// webExposure: the dashboard and the MCP endpoint (/mcp) answer beyond
// loopback only with authentication, and browsers only from origins that
// cannot be anyone's page.
func webExposure(in Inputs) Check {
	const name = "dashboard and MCP endpoint: authenticated beyond loopback"
	cfg := in.Config
	addr := cfg.HTTP.Addr
	if cfg.Dashboard.Addr != "" {
		addr = cfg.Dashboard.Addr
	}
	if addr == "" || (cfg.Dashboard.Disabled && cfg.MCP.Disabled) {
		return Check{Name: name, Status: Pass, Detail: "not served"}
	}
	for _, o := range cfg.MCP.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && !egress.IsLoopback(u.Hostname())) {
			return Check{Name: name, Status: Warn, Detail: fmt.Sprintf("mcp.allowed_origins has %q: a plain-http origin beyond loopback can be anyone's page on the path", o)}
		}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && egress.IsLoopback(host) {
		return Check{Name: name, Status: Pass, Detail: fmt.Sprintf("on loopback (%s): whoever reaches the port; Host and Origin checked", addr)}
	}
	if cfg.Dashboard.Token == "" && cfg.Dashboard.IAPAudience == "" {
		return Check{Name: name, Status: Fail, Detail: fmt.Sprintf("bound beyond loopback (%s) with neither dashboard.token nor dashboard.iap_audience: every request is refused", addr)}
	}
	return Check{Name: name, Status: Pass, Detail: fmt.Sprintf("beyond loopback (%s) with the dashboard's authentication", addr)}
}

// Failed reports whether any check failed.
func Failed(cs []Check) bool {
	for _, c := range cs {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

func secretRefs(in Inputs) Check {
	c := Check{Name: "secrets are references, not env, in production", Status: Pass, Detail: "every credential is named by reference"}
	var envs []string
	for field, ref := range in.Config.SecretRefs() {
		if strings.HasPrefix(ref, secrets.SchemeEnv+"://") {
			envs = append(envs, field)
		}
	}
	sort.Strings(envs)
	switch {
	case len(envs) > 0 && in.Config.Production() && !in.Config.Secrets.AllowEnvInProduction:
		c.Status, c.Detail = Fail, "env:// secrets in production: "+strings.Join(envs, ", ")
	case len(envs) > 0:
		c.Status, c.Detail = Warn, "env:// secrets (development only): "+strings.Join(envs, ", ")
	}
	return c
}

func configFile(in Inputs) Check {
	c := Check{Name: "config file permissions", Status: Pass, Detail: "no config file: embedded defaults"}
	if in.ConfigPath == "" {
		return c
	}
	st, err := os.Stat(in.ConfigPath)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: err.Error()}
	}
	mode := st.Mode().Perm()
	switch {
	case mode&0o022 != 0:
		return Check{Name: c.Name, Status: Fail, Detail: fmt.Sprintf("%s is writable by others (%v): anyone could point the agent elsewhere", in.ConfigPath, mode)}
	case mode&0o004 != 0:
		return Check{Name: c.Name, Status: Warn, Detail: fmt.Sprintf("%s is world-readable (%v)", in.ConfigPath, mode)}
	}
	c.Detail = fmt.Sprintf("%s is %v", in.ConfigPath, mode)
	return c
}

// Scopes a classic token may hold for what the agent does (draft pull
// requests): anything else is more than it needs.
var neededScopes = map[string]bool{"repo": true, "public_repo": true, "repo:status": true}

func githubToken(ctx context.Context, in Inputs) Check {
	c := Check{Name: "GitHub token: least privilege", Status: Pass, Detail: "no GitHub token configured"}
	ref, base := in.Config.GitHub.Token, in.Config.GitHub.BaseURL
	if d := in.Config.Delivery.GitHub; d.Token != "" {
		ref, base = d.Token, d.BaseURL
		if base == "" {
			base = "https://api.github.com"
		}
	}
	if ref == "" {
		if in.Config.Delivery.GitHub.AppID != 0 {
			c.Detail = "GitHub App: grant Contents read/write, Pull requests read/write, Metadata read, nothing else"
		}
		return c
	}
	if in.Secrets == nil || in.HTTP == nil {
		return Check{Name: c.Name, Status: Fail, Detail: "cannot check the token: no secret store or HTTP client"}
	}
	tok, err := in.Secrets.Get(ctx, ref)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/user", nil)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := in.HTTP.Do(req)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: "GitHub: " + err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		in.Secrets.Invalidate(ref)
		return Check{Name: c.Name, Status: Fail, Detail: "GitHub rejected the token (401): revoked, expired or rotated"}
	}
	if resp.StatusCode != http.StatusOK {
		return Check{Name: c.Name, Status: Fail, Detail: fmt.Sprintf("GitHub answered %s", resp.Status)}
	}
	var broad []string
	if h := resp.Header.Get("X-OAuth-Scopes"); h != "" {
		for _, s := range strings.Split(h, ",") {
			if s = strings.TrimSpace(s); s != "" && !neededScopes[s] {
				broad = append(broad, s)
			}
		}
	}
	classic := strings.HasPrefix(tok, "ghp_") || resp.Header.Get("X-OAuth-Scopes") != "" && !strings.HasPrefix(tok, "github_pat_")
	switch {
	case len(broad) > 0:
		return Check{Name: c.Name, Status: Fail, Detail: "token scopes broader than pull requests need: " + strings.Join(broad, ", ")}
	case classic:
		return Check{Name: c.Name, Status: Warn, Detail: "classic personal access token: works, but a fine-grained token or a GitHub App limits it to chosen repositories"}
	case strings.HasPrefix(tok, "github_pat_"):
		c.Detail = "fine-grained token (grant only Contents, Pull requests and Metadata on the target repositories)"
	case strings.HasPrefix(tok, "ghs_"):
		c.Detail = "GitHub App installation token"
	default:
		c.Detail = "token accepted; no classic scopes"
	}
	return c
}

func modelProviders(in Inputs) Check {
	c := Check{Name: "model providers: no data to third parties", Status: Pass}
	var third, own []string
	for i, name := range in.Config.Provider.Chain() {
		role := "primary"
		if i > 0 {
			role = "fallback"
		}
		f := config.Providers[name]
		switch {
		case f.ThirdParty:
			third = append(third, name+" ("+role+")")
		case !f.InProcess:
			host := "its default address"
			if _, u := f.Endpoint(in.Config.Provider); u != "" {
				if pu, err := url.Parse(u); err == nil {
					host = pu.Host
				}
			}
			own = append(own, fmt.Sprintf("%s (%s) at %s", name, role, host))
		}
	}
	switch {
	case len(third) > 0:
		c.Status, c.Detail = Warn, "redacted incident data goes to third parties: "+strings.Join(third, ", ")
	case len(own) > 0:
		c.Detail = "self-hosted model only: " + strings.Join(own, ", ")
	default:
		c.Detail = "offline provider only: nothing leaves the machine"
	}
	return c
}

func endpointsTLS(in Inputs) Check {
	c := Check{Name: "endpoints use TLS", Status: Pass, Detail: "every remote endpoint is https"}
	var bad []string
	check := func(field, raw string) {
		if raw == "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme == "http" && !egress.IsLoopback(u.Hostname())) {
			bad = append(bad, field+"="+raw)
		}
	}
	cfg := in.Config
	check("tracing.endpoint", cfg.Tracing.Endpoint)
	check("github.base_url", cfg.GitHub.BaseURL)
	check("delivery.github.base_url", cfg.Delivery.GitHub.BaseURL)
	check("delivery.gitlab.base_url", cfg.Delivery.GitLab.BaseURL)
	for _, name := range config.ProviderNames {
		if ep := config.Providers[name].Endpoint; ep != nil {
			check(ep(cfg.Provider))
		}
	}
	for i, r := range cfg.Notify.Receivers {
		at := fmt.Sprintf("notify.receivers[%d].", i)
		if r.Webhook != nil {
			check(at+"webhook.url", r.Webhook.URL)
		}
		if r.PagerDuty != nil {
			check(at+"pagerduty.url", r.PagerDuty.URL)
		}
		if r.Slack != nil {
			check(at+"slack.api_url", r.Slack.APIURL)
		}
	}
	if len(bad) > 0 {
		c.Status, c.Detail = Fail, "plain http to remote hosts: "+strings.Join(bad, ", ")
	}
	return c
}

// secretFiles fails a file:// secret that others can read.
func secretFiles(in Inputs) Check {
	c := Check{Name: "secret files are private", Status: Pass, Detail: "no file:// secret"}
	var bad, ok []string
	for field, ref := range in.Config.SecretRefs() {
		r, err := secrets.Parse(ref)
		if err != nil || r.Scheme != secrets.SchemeFile {
			continue
		}
		st, err := os.Stat(r.Name)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %s is missing", field, r.Name))
		case st.Mode().Perm()&0o077 != 0:
			bad = append(bad, fmt.Sprintf("%s: %s is readable by group or others (%v)", field, r.Name, st.Mode().Perm()))
		default:
			ok = append(ok, field)
		}
	}
	sort.Strings(bad)
	sort.Strings(ok)
	switch {
	case len(bad) > 0:
		c.Status, c.Detail = Fail, strings.Join(bad, "; ")
	case len(ok) > 0:
		c.Detail = "owner-only: " + strings.Join(ok, ", ")
	}
	return c
}

func ambientIdentity(in Inputs) Check {
	c := Check{Name: "cloud identity is ambient, not a key file", Status: Pass, Detail: "no key file or static keys in the environment"}
	if p := in.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			return Check{Name: c.Name, Status: Fail, Detail: "GOOGLE_APPLICATION_CREDENTIALS names a missing file"}
		}
		b, _ := os.ReadFile(p)
		var kind struct {
			Type string `json:"type"`
		}
		json.Unmarshal(b, &kind)
		if kind.Type == "service_account" {
			if st.Mode().Perm()&0o077 != 0 {
				return Check{Name: c.Name, Status: Fail, Detail: fmt.Sprintf("service-account key file %s is readable by others (%v)", p, st.Mode().Perm())}
			}
			return Check{Name: c.Name, Status: Warn, Detail: "a service-account key file is in use; prefer Workload Identity or the attached service account"}
		}
	}
	if in.Getenv("AWS_ACCESS_KEY_ID") != "" {
		return Check{Name: c.Name, Status: Warn, Detail: "static AWS access keys in the environment; prefer an IAM role (IRSA, instance profile)"}
	}
	if in.Getenv("AZURE_CLIENT_SECRET") != "" {
		return Check{Name: c.Name, Status: Warn, Detail: "an Azure client secret in the environment; prefer workload or managed identity"}
	}
	return c
}

func egressAllowlist(in Inputs) Check {
	c := Check{Name: "egress allowlist", Status: Pass, Detail: fmt.Sprintf("%d hosts allowed", len(in.Config.Egress.AllowHosts))}
	if len(in.Config.Egress.AllowHosts) == 0 {
		c.Status, c.Detail = Warn, "no egress.allow_hosts: outside calls may reach any https host"
		if !in.Config.Production() {
			c.Status = Pass
			c.Detail += " (development)"
		}
	}
	return c
}

func auditChain(in Inputs) Check {
	c := Check{Name: "audit log chain intact", Status: Pass}
	if in.AuditChains != nil {
		n, err := in.AuditChains(context.Background())
		if err != nil {
			return Check{Name: c.Name, Status: Fail, Detail: err.Error()}
		}
		c.Detail = fmt.Sprintf("%d records verified across every replica's chain", n)
		return c
	}
	if in.AuditPath == "" {
		c.Detail = "no audit log path"
		return c
	}
	if _, err := os.Stat(in.AuditPath); os.IsNotExist(err) {
		c.Detail = "no audit log yet"
		return c
	}
	s, err := audit.VerifyFile(in.AuditPath)
	if err != nil {
		return Check{Name: c.Name, Status: Fail, Detail: err.Error()}
	}
	c.Detail = fmt.Sprintf("%d records verified", s.Records)
	return c
}

func notRoot(in Inputs) Check {
	if in.Geteuid() == 0 {
		return Check{Name: "not running as root", Status: Warn, Detail: "running as root; the container image runs as a non-root user"}
	}
	return Check{Name: "not running as root", Status: Pass, Detail: fmt.Sprintf("uid %d", in.Geteuid())}
}
