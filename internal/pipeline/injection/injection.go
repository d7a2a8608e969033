// Package injection flags log text written to steer a model: role tags,
// "ignore previous instructions", tool or function-call JSON, and requests
// to change CI, credentials or permissions. A flag does not stop the
// pipeline (the text stays data inside the spotlighted block, and the
// policy gate judges any proposal the same way); it marks the incident for
// a person's attention.
//
// Text is scanned as written and as a model might read it: with Unicode
// folded (NFKC: full-width letters become ASCII), zero-width and
// bidirectional characters removed, percent-encoding decoded, and runs of
// base64 decoded when they hold text.
package injection

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"golang.org/x/text/unicode/norm"
)

var rules = []struct {
	name string
	re   *regexp.Regexp
}{
	{"override", regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the)\b.{0,20}\b(instructions?|prompts?|rules|directions|guidelines|context)`)},
	{"role-tag", regexp.MustCompile(`(?i)(<\|?(im_start|im_end|system|assistant|user)\|?>|\[/?(INST|SYS)\]|<</?SYS>>|^\s*(system|assistant)\s*:|\bnew (system )?instructions\s*:|###\s*(instruction|system)|\{\{\s*(system|assistant|instructions?|prompt)\s*:)`)},
	{"addressed-to-model", regexp.MustCompile(`(?i)\b(dear|attention|note to( the)?|hey|hello|hi|message (for|to)( the)?|instructions? (for|to)( the)?)\s+(ai|llm|gpt|claude|gemini|(ai |language |llm )?(assistant|model|agent)s?)\b|\bthe (remediation|triage|analysis|sre|ai|llm|automated|autonomous)\s+(agent|assistant|model|bot)\b|\b(if you are|as) an? (ai|llm|language model|ai assistant)\b`)},
	{"persona", regexp.MustCompile(`(?i)\byou are (now|no longer)\b|\bact as (an? )?(admin|root|developer|system)|\bjailbreak|\bDAN mode\b`)},
	{"tool-call", regexp.MustCompile(`(?i)"(function_call|tool_calls?|tool_use)"\s*:|"name"\s*:\s*"[^"]+"\s*,\s*"(arguments|input|parameters)"\s*:`)},
	{"ci-change", regexp.MustCompile(`(?i)(\.github/workflows|\.gitlab-ci\.ya?ml|jenkinsfile|cloudbuild\.ya?ml|ci pipeline)`)},
	{"credential-change", regexp.MustCompile(`(?i)\b(add|create|insert|print|reveal|send|exfiltrate|leak|rotate|disable)\b.{0,40}\b(deploy key|ssh key|api key|token|secret|password|credential)s?\b`)},
	{"permission-change", regexp.MustCompile(`(?i)\b(grant|give|add|make)\b.{0,40}\b(admin|owner|write access|collaborator|roles?/owner|iam)\b|\bauthori[sz]ed to (modify|change|grant|edit|update|delete)\b|\bdisable (branch )?protection\b|\bchmod\s+777\b|\bauto-?merge\b`)},
	{"download-exec", regexp.MustCompile(`(?i)\b(curl|wget)\b[^|\n]{0,200}\|\s*(sudo\s+)?(ba|z)?sh\b`)},
}

// Scan returns every instruction-like pattern in the texts, each rule once.
func Scan(texts ...string) []domain.Finding {
	var out []domain.Finding
	seen := map[string]bool{}
	for _, text := range texts {
		for _, t := range Readings(text) {
			out = scan(t, seen, out)
		}
	}
	return out
}

func scan(t string, seen map[string]bool, out []domain.Finding) []domain.Finding {
	for _, r := range rules {
		if seen[r.name] {
			continue
		}
		if loc := r.re.FindStringIndex(t); loc != nil {
			seen[r.name] = true
			ex := t[loc[0]:loc[1]]
			if len(ex) > 80 {
				ex = ex[:80] + "…"
			}
			out = append(out, domain.Finding{Rule: r.name, Excerpt: strings.ToValidUTF8(strings.TrimSpace(ex), "")})
		}
	}
	return out
}

// Readings are the ways a model could read t: as written, and, when they
// differ, Unicode-folded without invisible characters, percent-decoded,
// and with its base64 runs decoded.
func Readings(t string) []string {
	out := []string{t}
	add := func(s string) {
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	folded := strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) { // zero-width, bidi and other format characters
			return -1
		}
		return r
	}, norm.NFKC.String(t))
	add(folded)
	if strings.Contains(folded, "%") {
		add(percentDecode(folded))
	}
	if dec := decodeBase64Runs(folded); dec != "" {
		add(dec)
	}
	return out
}

// percentDecode decodes the valid %XX escapes and keeps the rest (a
// stray % does not stop it, as it stops url.PathUnescape).
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)

// decodeBase64Runs decodes each long base64 run that holds printable
// text, joined by spaces; "" when none does.
func decodeBase64Runs(s string) string {
	var parts []string
	for _, run := range base64Run.FindAllString(s, 8) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(run)
			if err != nil || !printable(b) {
				continue
			}
			parts = append(parts, string(b))
			break
		}
	}
	return strings.Join(parts, " ")
}

func printable(b []byte) bool {
	if len(b) < 8 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
