// Package injection flags log text written to steer a model: role tags,
// "ignore previous instructions", tool or function-call JSON, and requests
// to change CI, credentials or permissions. A flag does not stop the
// pipeline (the text stays data inside the spotlighted block, and the
// policy gate judges any proposal the same way); it marks the incident for
// a person's attention.
package injection

import (
	"regexp"
	"strings"
)

// Finding is one instruction-like pattern found.
type Finding struct {
	Rule    string `json:"rule"`
	Excerpt string `json:"excerpt"`
}

var rules = []struct {
	name string
	re   *regexp.Regexp
}{
	{"override", regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the)\b.{0,20}\b(instructions?|prompts?|rules|directions|guidelines|context)`)},
	{"role-tag", regexp.MustCompile(`(?i)(<\|?(im_start|im_end|system|assistant|user)\|?>|\[/?(INST|SYS)\]|<</?SYS>>|^\s*(system|assistant)\s*:|\bnew (system )?instructions\s*:|###\s*(instruction|system))`)},
	{"persona", regexp.MustCompile(`(?i)\byou are (now|no longer)\b|\bact as (an? )?(admin|root|developer|system)|\bjailbreak|\bDAN mode\b`)},
	{"tool-call", regexp.MustCompile(`(?i)"(function_call|tool_calls?|tool_use)"\s*:|"name"\s*:\s*"[^"]+"\s*,\s*"(arguments|input|parameters)"\s*:`)},
	{"ci-change", regexp.MustCompile(`(?i)(\.github/workflows|\.gitlab-ci\.ya?ml|jenkinsfile|cloudbuild\.ya?ml|ci pipeline)`)},
	{"credential-change", regexp.MustCompile(`(?i)\b(add|create|insert|print|reveal|send|exfiltrate|leak|rotate|disable)\b.{0,40}\b(deploy key|ssh key|api key|token|secret|password|credential)s?\b`)},
	{"permission-change", regexp.MustCompile(`(?i)\b(grant|give|add|make)\b.{0,40}\b(admin|owner|write access|collaborator|roles?/owner|iam)\b|\bdisable (branch )?protection\b|\bchmod\s+777\b|\bauto-?merge\b`)},
	{"download-exec", regexp.MustCompile(`(?i)\b(curl|wget)\b[^|\n]{0,200}\|\s*(sudo\s+)?(ba|z)?sh\b`)},
}

// Scan returns every instruction-like pattern in the texts, each rule once.
func Scan(texts ...string) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, t := range texts {
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
				out = append(out, Finding{Rule: r.name, Excerpt: strings.TrimSpace(ex)})
			}
		}
	}
	return out
}
