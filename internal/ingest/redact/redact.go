package redact

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Kind names what was redacted; it appears in the marker.
type Kind string

const (
	AWSAccessKey    Kind = "aws-access-key"
	AWSSecretKey    Kind = "aws-secret-key"
	GCPAPIKey       Kind = "gcp-api-key"
	PrivateKey      Kind = "private-key"
	GitHubToken     Kind = "github-token"
	SlackToken      Kind = "slack-token"
	SlackWebhook    Kind = "slack-webhook"
	StripeKey       Kind = "stripe-key"
	SendGridKey     Kind = "sendgrid-key"
	NPMToken        Kind = "npm-token"
	OpenAIKey       Kind = "openai-key"
	AnthropicKey    Kind = "anthropic-key"
	JWT             Kind = "jwt"
	AuthHeader      Kind = "authorization"
	URLPassword     Kind = "url-password"
	AzureConnection Kind = "azure-connection-string"
	Secret          Kind = "secret"
	Email           Kind = "email"
	Phone           Kind = "phone"
	CardNumber      Kind = "card-number"
	IBAN            Kind = "iban"
	SSN             Kind = "us-ssn"
	IPv4            Kind = "ipv4"
	IPv6            Kind = "ipv6"
	GoogleOAuth     Kind = "google-oauth-token"
	GitLabToken     Kind = "gitlab-token"
	VaultToken      Kind = "vault-token"
	HuggingFace     Kind = "huggingface-token"
	DigitalOcean    Kind = "digitalocean-token"
	PyPIToken       Kind = "pypi-token"
	TwilioKey       Kind = "twilio-key"
	URLSignature    Kind = "url-signature"
	DockerAuth      Kind = "docker-auth"
)

// Options chooses which optional kinds run. Secrets always run.
type Options struct {
	// IPv4 redacts IPv4 addresses on the internet; machines' own addresses
	// (loopback, private networks, link-local, documentation) stay
	// readable unless PrivateIPs is set.
	IPv4 bool `yaml:"ipv4"`
	// PrivateIPs redacts loopback, private, link-local and documentation
	// IPv4 addresses too (docs/SECURITY.md: why they are kept by default).
	PrivateIPs bool `yaml:"private_ips"`
	// IPv6 redacts IPv6 addresses.
	IPv6 bool `yaml:"ipv6"`
	// Email redacts e-mail addresses (personal data).
	Email bool `yaml:"email"`
	// Phone redacts phone numbers (personal data).
	Phone bool `yaml:"phone"`
}

// DefaultOptions redacts everything.
func DefaultOptions() Options { return Options{IPv4: true, IPv6: true, Email: true, Phone: true} }

// Marker is the replacement text for a kind.
func Marker(k Kind) string { return "[REDACTED:" + string(k) + "]" }

// Wildcard is a template's variable (the miner's <*>): in a template's
// text, what follows "password=" is a placeholder, not a password.
const Wildcard = "<*>"

// isWildcard reports a value that is the wildcard and nothing else (a
// secret glued after it is still a secret).
func isWildcard(v string) bool { return strings.TrimRight(v, `"',;)}]`) == Wildcard }

// regexRule is a rule gated by keywords; group selects the submatch that is
// replaced (0 for the whole match).
type regexRule struct {
	kind     Kind
	keywords []string
	re       *regexp.Regexp
	group    int
	keep     func(value string) bool // reports a match that is not a secret
}

var regexRules = []regexRule{
	{kind: PrivateKey, keywords: []string{"private key-----"},
		re: regexp.MustCompile(`-----BEGIN[A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----|[\s\S]*)`)},
	{kind: AWSAccessKey, keywords: []string{"akia", "asia", "aroa", "aida", "agpa", "anpa", "anva", "aipa", "abia", "acca", "apka", "asca"},
		re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}\b`)},
	{kind: AWSSecretKey, keywords: []string{"aws"},
		re:    regexp.MustCompile(`(?i)aws[A-Za-z0-9_.-]{0,30}(?:secret|key)[A-Za-z0-9_.-]{0,20}["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b`),
		group: 1},
	{kind: GCPAPIKey, keywords: []string{"aiza"},
		re: regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`)},
	{kind: GitHubToken, keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re: regexp.MustCompile(`\b(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`)},
	{kind: SlackWebhook, keywords: []string{"hooks.slack.com"},
		re: regexp.MustCompile(`https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+`)},
	{kind: SlackToken, keywords: []string{"xox"},
		re: regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]{10,}`)},
	{kind: StripeKey, keywords: []string{"_live_", "_test_"},
		re: regexp.MustCompile(`\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}`)},
	{kind: SendGridKey, keywords: []string{"sg."},
		re: regexp.MustCompile(`\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}`)},
	{kind: NPMToken, keywords: []string{"npm_"},
		re: regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`)},
	{kind: AnthropicKey, keywords: []string{"sk-ant-"},
		re: regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`)},
	{kind: OpenAIKey, keywords: []string{"sk-"},
		re:   regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`),
		keep: func(v string) bool { return strings.HasPrefix(v, "sk-ant-") }},
	{kind: JWT, keywords: []string{"eyj"},
		re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)},
	{kind: AuthHeader, keywords: []string{"bearer", "basic ", "authorization", "token "},
		re:    regexp.MustCompile(`(?i)(?:\b(?:bearer|basic)|authorization["']?\s*[:=]\s*["']?(?:token|digest)?)\s+([A-Za-z0-9._~+/=-]{8,})`),
		group: 1},
	{kind: URLPassword, keywords: []string{"://"},
		re:    regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@"']*:([^/\s@"']+)@`),
		group: 1},
	{kind: AzureConnection, keywords: []string{"accountkey", "sharedaccesskey", "sharedaccesssignature", "sig="},
		re:    regexp.MustCompile(`(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=([^;"'\s&]+)`),
		group: 1},
	{kind: GoogleOAuth, keywords: []string{"ya29.", "1//0"},
		re: regexp.MustCompile(`\bya29\.[0-9A-Za-z_-]{20,}|(?:^|[^0-9A-Za-z/])(1//0[0-9A-Za-z_-]{30,})`)},
	{kind: GitLabToken, keywords: []string{"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-"},
		re: regexp.MustCompile(`\b(?:glpat|gldt|glrt|glptt|glcbt)-[0-9A-Za-z_-]{20,}`)},
	{kind: VaultToken, keywords: []string{"hvs.", "hvb.", "hvr."},
		re: regexp.MustCompile(`\bhv[sbr]\.[0-9A-Za-z_-]{24,}`)},
	{kind: HuggingFace, keywords: []string{"hf_"},
		re: regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
	{kind: DigitalOcean, keywords: []string{"dop_v1_", "doo_v1_", "dor_v1_"},
		re: regexp.MustCompile(`\bdo[opr]_v1_[a-f0-9]{64}`)},
	{kind: PyPIToken, keywords: []string{"pypi-"},
		re: regexp.MustCompile(`\bpypi-[A-Za-z0-9_-]{50,}`)},
	{kind: URLSignature, keywords: []string{"signature", "x-amz-credential", "x-goog-credential", "sig="},
		re:    regexp.MustCompile(`(?i)\b(?:X-(?:Goog|Amz)-(?:Signature|Credential|Security-Token)|Signature|sig)=([^&\s"'#]+)`),
		group: 1},
	{kind: DockerAuth, keywords: []string{`auth"`, `auth\`, "identitytoken", "registrytoken"},
		re:    regexp.MustCompile(`\\*"(?:auth|identitytoken|registrytoken)\\*"\s*:\s*\\*"([A-Za-z0-9+/=_-]{8,})\\*"`),
		group: 1},
	{kind: Secret, keywords: []string{"pass", "pwd", "secret", "token", "api_key", "apikey", "api-key", "access_key", "accesskey", "private_key", "privatekey", "credential", "session_id", "sessionid", "cookie"},
		// Keys as bare words, quoted, or quoted inside a JSON string
		// (\"client_secret\": \"...\"); => before = so a Ruby hash's
		// value is the value.
		re:    regexp.MustCompile(`(?i)(?:\\*["'])?\b[A-Za-z0-9_.-]*(?:passwd|password|pass|pwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key(?:_id)?|credentials?|session[_-]?id|cookie)(?:[_.-]?(?:key|value|hash|b64|base64|enc|encrypted|plain|raw))?(?:\\*["'])?\s*(?:=>|=\\+u003e|=|:)\s*(\\+"[^"]*?\\+"|"[^"]+"|'[^']+'|[^\s,;&}"'\\)]+)`),
		group: 1, keep: keepSecretValue},
	// <password>...</password> and its relatives in XML.
	{kind: Secret, keywords: []string{"pass", "secret", "token", "key>", "credential"},
		re:    regexp.MustCompile(`(?i)(?:<|\\+u003c)(?:[A-Za-z0-9_.-]*:)?[A-Za-z0-9_.-]*(?:password|passwd|secret|token|apikey|api_key|privatekey|credential)[A-Za-z0-9_.-]*(?:>|\\+u003e)(.+?)(?:<|\\+u003c)/`),
		group: 1, keep: keepSecretValue},
	// "password hunter2": a password named in prose, when the word after
	// it looks like one (letters and digits, or symbols).
	{kind: Secret, keywords: []string{"password", "passwd", "passphrase"},
		re:    regexp.MustCompile(`(?i)\b(?:password|passwd|passphrase)(?:\s+is)?\s+([^\s,;"'<>()\[\]]{6,})`),
		group: 1, keep: keepProse},
	// An SSN named as one, with or without dashes.
	{kind: SSN, keywords: []string{"ssn", "social"},
		re:    regexp.MustCompile(`(?i)\b(?:ssn|social[_ -]?security(?:[_ -]?(?:number|no))?)["']?\s*(?:[:=#]|is)?\s*["']?(\d{3}-?\d{2}-?\d{4})\b`),
		group: 1},
	// A card number in a payment context, whatever its length for the
	// brand, when it passes the Luhn check.
	{kind: CardNumber, keywords: []string{"card", "pan=", "pan:", `pan"`, "pan'", "cc=", "cc:", `cc"`, "cc'", "ccnum", "cc_num"},
		re:    regexp.MustCompile(`(?i)\b(?:card(?:_?num(?:ber)?)?|pan|cc(?:_?num(?:ber)?)?|credit_?card)["']?\s*[:=]\s*["']?(\d(?:[ -]?\d){11,18})\b`),
		group: 1, keep: func(v string) bool { return !luhnString(v) }},
}

// keepProse reports a word after "password" that is prose, not a
// password: letters only (reset, expired, incorrect), a marker, or a
// template's variable.
func keepProse(v string) bool {
	if strings.HasPrefix(v, "[REDACTED:") || isWildcard(v) {
		return true
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// luhnString checks the digits of v (spaces and dashes skipped).
func luhnString(v string) bool {
	d := make([]byte, 0, 19)
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			d = append(d, v[i]-'0')
		}
	}
	return len(d) >= 12 && luhn(d)
}

// keepSecretValue reports values of secret-named keys that carry nothing
// secret: placeholders, booleans, already-redacted text.
func keepSecretValue(v string) bool {
	v = strings.Trim(v, `"'`)
	switch strings.ToLower(v) {
	case "", "null", "nil", "none", "true", "false", "***", "<redacted>", "[redacted]", "-", "0", "1":
		return true
	}
	if strings.HasPrefix(v, "[REDACTED:") || isWildcard(v) {
		return true
	}
	// A short number (a counter, a ZooKeeper session id) is an identifier,
	// not a credential.
	hex := strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X")
	n := v
	if hex {
		n = v[2:]
	}
	if len(n) == 0 || len(n) > 16 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isDigit(n[i]) && !(hex && isHex(n[i])) {
			return false
		}
	}
	return true
}

// priority decides the marker when matches overlap: the specific kind wins
// over the generic ones.
func priority(k Kind) int {
	switch k {
	case Secret:
		return 1
	case Email, IPv4, IPv6, Phone:
		return 0
	}
	return 2
}

// Known masks exact values: the agent's own loaded secrets, which no rule
// may recognise by shape (an upstream that echoes a token in an error).
type Known interface {
	Mask(string) string
}

// LoadedSecret is the kind Find reports for a Known value.
const LoadedSecret Kind = "loaded-secret"

// WithKnown returns a redactor that masks k's values before its rules run.
func (r *Redactor) WithKnown(k Known) *Redactor {
	c := *r
	c.known = k
	return &c
}

// Redactor replaces secrets and PII. It is safe for concurrent use.
type Redactor struct {
	known     Known
	opts      Options
	keywords  *keywordSet
	ruleMasks []uint64 // keyword bits of each regexRule
}

// New builds a redactor.
func New(opts Options) *Redactor {
	if len(regexRules) > 64 {
		panic("redact: more than 64 keyword rules")
	}
	var words []string
	var triggers []uint64
	masks := make([]uint64, len(regexRules))
	for i, r := range regexRules {
		masks[i] = 1 << uint(i)
		for _, w := range r.keywords {
			words = append(words, w)
			triggers = append(triggers, masks[i])
		}
	}
	return &Redactor{opts: opts, keywords: newKeywordSet(words, triggers), ruleMasks: masks}
}

type span struct {
	start, end int
	kind       Kind
}

// Redact returns s with every secret and PII value replaced by its marker.
// A clean line is returned as is, without allocating.
func (r *Redactor) Redact(s string) string {
	if r.known != nil {
		s = r.known.Mask(s)
	}
	spans := r.spans(s)
	if len(spans) == 0 {
		return s
	}
	return apply(s, spans)
}

// Find reports the kinds of secret and PII in s, each once, in the order
// first found; nil when s is clean. Gates that refuse rather than mask
// (the policy gate, the last check on a prompt) use it.
func (r *Redactor) Find(s string) []Kind {
	var kinds []Kind
	if r.known != nil {
		if m := r.known.Mask(s); m != s {
			kinds, s = append(kinds, LoadedSecret), m
		}
	}
	for _, sp := range r.spans(s) {
		if !slices.Contains(kinds, sp.kind) {
			kinds = append(kinds, sp.kind)
		}
	}
	return kinds
}

func (r *Redactor) spans(s string) []span {
	if len(s) == 0 {
		return nil
	}
	found, classes := r.keywords.scan(s)
	var spans []span
	if found != 0 {
		for i := range regexRules {
			if found&r.ruleMasks[i] == 0 {
				continue
			}
			spans = regexRules[i].find(s, spans)
		}
	}
	return r.findShaped(s, classes, spans)
}

func (rr *regexRule) find(s string, spans []span) []span {
	for _, m := range rr.re.FindAllStringSubmatchIndex(s, -1) {
		a, b := m[2*rr.group], m[2*rr.group+1]
		if a < 0 || a == b {
			continue
		}
		if rr.keep != nil && rr.keep(s[a:b]) {
			continue
		}
		// A marker is what an earlier pass left, a wildcard what a
		// template put for a variable: never a secret.
		if v := strings.TrimLeft(s[a:b], `\"'`); strings.HasPrefix(v, "[REDACTED:") || isWildcard(v) {
			continue
		}
		if rr.group == 0 && a > 0 && s[a-1] == ']' && afterMarker(s, a) {
			continue // see glued: judged as the first pass judged it
		}
		spans = append(spans, span{a, b, rr.kind})
	}
	return spans
}

// apply writes s with spans replaced; overlapping spans merge into the
// earliest-starting one so no secret byte survives.
func apply(s string, spans []span) string {
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end > spans[j].end
	})
	var b strings.Builder
	b.Grow(len(s) + 16*len(spans))
	pos := 0
	for i := 0; i < len(spans); i++ {
		sp := spans[i]
		end := sp.end
		for i+1 < len(spans) && spans[i+1].start < end {
			if spans[i+1].end > end {
				end = spans[i+1].end
			}
			if priority(spans[i+1].kind) > priority(sp.kind) {
				sp.kind = spans[i+1].kind
			}
			i++
		}
		if sp.start < pos {
			sp.start = pos
		}
		b.WriteString(s[pos:sp.start])
		b.WriteString(Marker(sp.kind))
		pos = end
	}
	b.WriteString(s[pos:])
	return b.String()
}
