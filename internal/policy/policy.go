// Package policy is the gate every proposal passes before delivery. A
// proposal's diff must parse, touch only allowed paths (never CI and
// workflow files, credentials and keys, or IAM and infrastructure policy
// unless an operator allows them explicitly), stay within size limits,
// and neither the diff nor the text may carry a secret or a
// download-and-run command. The gate refuses; it never repairs.
package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/bmatcuk/doublestar/v4"

	"github.com/cloud-sre-agent/sre-agent/internal/redact"
)

// DefaultDeny are the paths no proposal may touch: CI and workflow
// definitions, credentials and keys, IAM and infrastructure policy.
var DefaultDeny = []string{
	".github/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", ".buildkite/**",
	"Jenkinsfile", "**/Jenkinsfile", ".travis.yml", "azure-pipelines.yml", "cloudbuild.yaml", "cloudbuild.yml",
	"**/cloudbuild.yaml", ".ci/**", "bitbucket-pipelines.yml", ".pre-commit-config.yaml",
	"**/*.pem", "**/*.key", "**/*.p12", "**/*.pfx", "**/*.jks", "**/*.keystore",
	"**/id_rsa*", "**/id_ed25519*", "**/id_ecdsa*", "**/.env", "**/.env.*", "**/.npmrc", "**/.pypirc", "**/.netrc",
	"**/*credentials*", "**/*secret*", "**/.aws/**", "**/.ssh/**", "**/.docker/config.json", "**/kubeconfig*",
	"**/*.tf", "**/*.tfvars", "**/*.tfstate", "**/*.hcl", "**/iam/**", "**/*iam*.json", "**/*iam*.yaml", "**/*iam*.yml",
	"**/*policy*.json", "**/*policy*.yaml", "**/*policy*.yml", "CODEOWNERS", "**/CODEOWNERS",
}

// Config bounds what a proposal may change.
type Config struct {
	// Allow, when set, are the only paths a diff may touch (doublestar
	// globs such as "src/**/*.go").
	Allow []string `yaml:"allow"`
	// Deny adds paths to DefaultDeny; DefaultDeny always applies.
	Deny []string `yaml:"deny"`
	// AllowDefaultDenied lifts named DefaultDeny patterns (say
	// "**/*.tf" for an infrastructure repository); an explicit choice.
	AllowDefaultDenied []string `yaml:"allow_default_denied"`
	MaxFiles           int      `yaml:"max_files"`
	MaxChangedLines    int      `yaml:"max_changed_lines"`
	MaxDiffBytes       int      `yaml:"max_diff_bytes"`
}

// DefaultConfig is a gate for small, reviewable fixes.
func DefaultConfig() Config {
	return Config{MaxFiles: 10, MaxChangedLines: 400, MaxDiffBytes: 64 << 10}
}

// Validate checks the limits and that every glob compiles.
func (c Config) Validate() error {
	if c.MaxFiles < 1 || c.MaxChangedLines < 1 || c.MaxDiffBytes < 1 {
		return errors.New("policy: max_files, max_changed_lines and max_diff_bytes must be positive")
	}
	for _, list := range [][]string{c.Allow, c.Deny, c.AllowDefaultDenied} {
		for _, g := range list {
			if !doublestar.ValidatePattern(g) {
				return fmt.Errorf("policy: bad path pattern %q", g)
			}
		}
	}
	return nil
}

// Rules a violation can name.
const (
	RuleDiffParse     = "diff-parse"
	RuleUnsafePath    = "unsafe-path"
	RuleDeniedPath    = "denied-path"
	RuleNotAllowed    = "path-not-allowed"
	RuleBinary        = "binary-change"
	RuleTooManyFiles  = "too-many-files"
	RuleTooManyLines  = "too-many-lines"
	RuleTooLarge      = "diff-too-large"
	RuleSecret        = "secret"
	RuleRemoteExec    = "download-and-execute"
	RuleModeChange    = "mode-change"
	RulePatchNotApply = "patch-does-not-apply"
)

// Violation is one reason a proposal was refused.
type Violation struct {
	Rule   string `json:"rule"`
	Path   string `json:"path,omitempty"`
	Detail string `json:"detail"`
}

// Decision is the gate's verdict.
type Decision struct {
	Allowed    bool        `json:"allowed"`
	Violations []Violation `json:"violations,omitempty"`
	// Files are the paths the diff touches.
	Files []string `json:"files,omitempty"`
}

// Rules lists the rules violated, each once.
func (d Decision) Rules() []string {
	var out []string
	for _, v := range d.Violations {
		if !contains(out, v.Rule) {
			out = append(out, v.Rule)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Gate checks proposals. It is safe for concurrent use.
type Gate struct {
	cfg  Config
	deny []string
	red  *redact.Redactor
}

// New builds a gate; the redactor finds secrets (it should be built with
// every kind on).
func New(cfg Config, red *redact.Redactor) (*Gate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var deny []string
	for _, g := range DefaultDeny {
		if !contains(cfg.AllowDefaultDenied, g) {
			deny = append(deny, g)
		}
	}
	deny = append(deny, cfg.Deny...)
	return &Gate{cfg: cfg, deny: deny, red: red}, nil
}

// remoteExec finds a download piped into a shell or interpreter, or a
// fetched script run in place.
var remoteExec = regexp.MustCompile(`(?i)\b(curl|wget|fetch|iwr|invoke-webrequest)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|k|da)?sh\b|\b(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(python3?|perl|ruby|node|iex)\b|\b(ba)?sh\s+(-c\s+)?["']?\$\((curl|wget)\b|\bbase64\s+(-d|--decode)\b[^|\n]*\|\s*(ba)?sh\b`)

// Check judges a proposal's text (summary, steps, test plan) and diff;
// an empty diff is a words-only proposal.
func (g *Gate) Check(text, diff string) Decision {
	var d Decision
	add := func(rule, p, detail string) {
		d.Violations = append(d.Violations, Violation{Rule: rule, Path: p, Detail: detail})
	}
	for _, k := range g.red.Find(text) {
		add(RuleSecret, "", fmt.Sprintf("the proposal text carries a %s", k))
	}
	if m := remoteExec.FindString(text); m != "" {
		add(RuleRemoteExec, "", fmt.Sprintf("the proposal text runs downloaded code: %q", clip(m)))
	}
	if strings.TrimSpace(diff) != "" {
		g.checkDiff(diff, add, &d)
	}
	d.Allowed = len(d.Violations) == 0
	return d
}

func (g *Gate) checkDiff(diff string, add func(rule, p, detail string), d *Decision) {
	if len(diff) > g.cfg.MaxDiffBytes {
		add(RuleTooLarge, "", fmt.Sprintf("diff is %d bytes, the limit is %d", len(diff), g.cfg.MaxDiffBytes))
		return
	}
	files, _, err := gitdiff.Parse(strings.NewReader(diff))
	if err != nil {
		add(RuleDiffParse, "", "diff does not parse: "+err.Error())
		return
	}
	if len(files) == 0 {
		add(RuleDiffParse, "", "diff has no file changes")
		return
	}
	if len(files) > g.cfg.MaxFiles {
		add(RuleTooManyFiles, "", fmt.Sprintf("diff touches %d files, the limit is %d", len(files), g.cfg.MaxFiles))
	}
	// Traditional (non-git) headers keep their a/ and b/ prefixes; git
	// apply strips one leading component (-p1), and so does the gate.
	traditional := !strings.Contains(diff, "diff --git ")
	changed := 0
	for _, f := range files {
		for _, name := range []string{f.OldName, f.NewName} {
			if traditional {
				name = stripComponent(name)
			}
			if name == "" || contains(d.Files, name) {
				continue
			}
			d.Files = append(d.Files, name)
			if reason := g.pathProblem(name); reason != "" {
				rule := RuleDeniedPath
				switch {
				case strings.HasPrefix(reason, "unsafe"):
					rule = RuleUnsafePath
				case strings.HasPrefix(reason, "not in"):
					rule = RuleNotAllowed
				}
				add(rule, name, reason)
			}
		}
		if f.IsBinary {
			add(RuleBinary, f.NewName, "binary changes are not reviewable as text")
		}
		if f.NewMode&0o111 != 0 && f.OldMode&0o111 == 0 {
			add(RuleModeChange, f.NewName, "the diff makes a file executable")
		}
		for _, frag := range f.TextFragments {
			if err := frag.Validate(); err != nil {
				add(RuleDiffParse, f.NewName, "hunk is inconsistent: "+err.Error())
			}
			changed += int(frag.LinesAdded + frag.LinesDeleted)
			for _, l := range frag.Lines {
				if l.Op != gitdiff.OpAdd {
					continue
				}
				if m := remoteExec.FindString(l.Line); m != "" {
					add(RuleRemoteExec, f.NewName, fmt.Sprintf("added line runs downloaded code: %q", clip(m)))
				}
				for _, k := range g.red.Find(l.Line) {
					add(RuleSecret, f.NewName, fmt.Sprintf("added line carries a %s", k))
				}
			}
		}
	}
	if changed > g.cfg.MaxChangedLines {
		add(RuleTooManyLines, "", fmt.Sprintf("diff changes %d lines, the limit is %d", changed, g.cfg.MaxChangedLines))
	}
}

// pathProblem says why a repository path may not be touched, or "".
func (g *Gate) pathProblem(p string) string {
	if strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return "unsafe path: control or backslash characters"
	}
	if path.IsAbs(p) || p != path.Clean(p) || p == ".." || strings.HasPrefix(p, "../") || p == "." {
		return "unsafe path: must be relative and clean, inside the repository"
	}
	if p == ".git" || strings.HasPrefix(p, ".git/") || strings.Contains(p, "/.git/") {
		return "unsafe path: inside .git"
	}
	lower := strings.ToLower(p)
	for _, g := range g.deny {
		if match(g, p) || match(g, lower) {
			return "denied by " + g
		}
	}
	if len(g.cfg.Allow) > 0 {
		for _, a := range g.cfg.Allow {
			if match(a, p) {
				return ""
			}
		}
		return "not in the allowed paths"
	}
	return ""
}

// RepoPath is a file name from a parsed diff as a repository path: a
// traditional (non-git) diff keeps its a/ and b/ prefixes, which git
// apply strips (-p1), and so does this.
func RepoPath(diff, name string) string {
	if strings.Contains(diff, "diff --git ") {
		return name
	}
	return stripComponent(name)
}

func stripComponent(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func match(pattern, p string) bool {
	ok, err := doublestar.Match(pattern, p)
	return err == nil && ok
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
