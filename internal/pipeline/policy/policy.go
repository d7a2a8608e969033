// Package policy is the gate every proposal passes before it is validated
// or delivered. The gate allows rather than denies: by default a diff may
// change only source files of the languages the agent fixes (and plain
// configuration below the repository root); build files, CI and pipeline
// definitions, infrastructure as code, container and dev-environment
// definitions, package manifests, git metadata, credentials and ownership
// files are refused unless the config lifts that class by name. Only
// regular files may be created or changed, never deleted, renamed or
// copied; no symlink, gitlink or executable bit. No added line, and no
// free text of the proposal, may carry a secret or run downloaded code,
// and configuration may not fetch at all. The diff is read through the one
// diff model (internal/patch), so every later step sees the same paths.
// The gate refuses; it never repairs.
package policy

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/bmatcuk/doublestar/v4"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/patch"
)

// Config bounds what a proposal may change.
type Config struct {
	// AllowClasses lifts refused classes by name (see Classes), say
	// "infra" for an infrastructure repository; an explicit choice.
	AllowClasses []string `yaml:"allow_classes"`
	// Extensions replaces the source extensions a diff may change
	// (SourceExtensions when empty); ConfigExtensions likewise for plain
	// configuration below the repository root.
	Extensions       []string `yaml:"extensions"`
	ConfigExtensions []string `yaml:"config_extensions"`
	// Allow, when set, narrows further: a path must also match one of
	// these doublestar globs (say "services/checkout/**").
	Allow []string `yaml:"allow"`
	// Deny refuses more paths; it applies whatever else allows them.
	Deny []string `yaml:"deny"`
	// MaxFiles bounds the files a proposed diff may touch.
	MaxFiles int `yaml:"max_files"`
	// MaxChangedLines bounds the lines a proposed diff adds and removes.
	MaxChangedLines int `yaml:"max_changed_lines"`
	// MaxDiffBytes bounds a proposed diff's size.
	MaxDiffBytes int `yaml:"max_diff_bytes"`
}

// DefaultConfig is a gate for small, reviewable fixes.
func DefaultConfig() Config {
	return Config{MaxFiles: 10, MaxChangedLines: 400, MaxDiffBytes: 64 << 10}
}

// Validate checks the limits, the class names and that every glob
// compiles.
func (c Config) Validate() error {
	if c.MaxFiles < 1 || c.MaxChangedLines < 1 || c.MaxDiffBytes < 1 {
		return errors.New("policy: max_files, max_changed_lines and max_diff_bytes must be positive")
	}
	for _, name := range c.AllowClasses {
		if _, ok := Classes[name]; !ok {
			return fmt.Errorf("policy: allow_classes names %q; the classes are %s", name, strings.Join(ClassNames, ", "))
		}
	}
	for _, list := range [][]string{c.Allow, c.Deny} {
		for _, g := range list {
			if !doublestar.ValidatePattern(g) {
				return fmt.Errorf("policy: bad path pattern %q", g)
			}
		}
	}
	for _, list := range [][]string{c.Extensions, c.ConfigExtensions} {
		for _, e := range list {
			if !strings.HasPrefix(e, ".") || strings.Contains(e, "/") {
				return fmt.Errorf("policy: extension %q must start with a dot", e)
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
	RuleFetch         = "network-fetch"
	RuleModeChange    = "file-mode"
	RuleFileOp        = "file-operation"
	RulePatchNotApply = "patch-does-not-apply"
)

// Gate checks proposals. It is safe for concurrent use.
type Gate struct {
	cfg     Config
	classes []string // the classes that apply (not lifted)
	source  []string
	config  []string
	red     *redact.Redactor
}

// New builds a gate; the redactor finds secrets (it should be built with
// every kind on).
func New(cfg Config, red *redact.Redactor) (*Gate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gate{cfg: cfg, red: red, source: cfg.Extensions, config: cfg.ConfigExtensions}
	if len(g.source) == 0 {
		g.source = SourceExtensions
	}
	if len(g.config) == 0 {
		g.config = ConfigExtensions
	}
	for _, name := range ClassNames {
		if !slices.Contains(cfg.AllowClasses, name) {
			g.classes = append(g.classes, name)
		}
	}
	return g, nil
}

// Check judges a proposal's free text (every prose field of every stage's
// answer) and diff; an empty diff is a words-only proposal.
func (g *Gate) Check(text, diff string) domain.GateDecision {
	var d domain.GateDecision
	add := func(rule, p, detail string) {
		d.Violations = append(d.Violations, domain.Violation{Rule: rule, Path: p, Detail: detail})
	}
	for _, k := range g.red.Find(text) {
		add(RuleSecret, "", fmt.Sprintf("the proposal text carries a %s", k))
	}
	if m := runsDownloaded(text); m != "" {
		add(RuleRemoteExec, "", fmt.Sprintf("the proposal text runs downloaded code: %q", clip(m)))
	}
	if strings.TrimSpace(diff) != "" {
		g.checkDiff(diff, add, &d)
	}
	d.Allowed = len(d.Violations) == 0
	return d
}

func (g *Gate) checkDiff(diff string, add func(rule, p, detail string), d *domain.GateDecision) {
	if len(diff) > g.cfg.MaxDiffBytes {
		add(RuleTooLarge, "", fmt.Sprintf("diff is %d bytes, the limit is %d", len(diff), g.cfg.MaxDiffBytes))
		return
	}
	p, err := patch.Parse(diff)
	if err != nil {
		add(RuleDiffParse, "", err.Error())
		return
	}
	if len(p.Files) > g.cfg.MaxFiles {
		add(RuleTooManyFiles, "", fmt.Sprintf("diff touches %d files, the limit is %d", len(p.Files), g.cfg.MaxFiles))
	}
	changed := 0
	for _, f := range p.Files {
		for _, name := range f.Paths() {
			if !slices.Contains(d.Files, name) {
				d.Files = append(d.Files, name)
			}
			if rule, reason := g.pathProblem(name); reason != "" {
				add(rule, name, reason)
			}
		}
		g.checkFile(f, add)
		for _, frag := range f.Diff.TextFragments {
			if err := frag.Validate(); err != nil {
				add(RuleDiffParse, f.Path(), "hunk is inconsistent: "+err.Error())
			}
			changed += int(frag.LinesAdded + frag.LinesDeleted)
		}
		g.checkAdded(f, add)
	}
	if changed > g.cfg.MaxChangedLines {
		add(RuleTooManyLines, "", fmt.Sprintf("diff changes %d lines, the limit is %d", changed, g.cfg.MaxChangedLines))
	}
}

// checkFile refuses what is not a plain edit or creation of a regular
// file.
func (g *Gate) checkFile(f patch.File, add func(rule, p, detail string)) {
	switch {
	case f.IsBinary:
		add(RuleBinary, f.Path(), "binary changes are not reviewable as text")
	case f.IsDelete:
		add(RuleFileOp, f.Path(), "the agent does not delete files")
	case f.IsRename:
		add(RuleFileOp, f.Path(), "the agent does not rename files")
	case f.IsCopy:
		add(RuleFileOp, f.Path(), "the agent does not copy files")
	}
	for _, m := range []struct {
		mode uint32
		side string
	}{{uint32(f.OldMode), "old"}, {uint32(f.NewMode), "new"}} {
		switch {
		case m.mode == 0 || m.mode == 0o100644:
		case m.mode == 0o120000:
			add(RuleModeChange, f.Path(), "symbolic links are refused (mode 120000)")
		case m.mode == 0o160000:
			add(RuleModeChange, f.Path(), "gitlinks (submodules) are refused (mode 160000)")
		case m.mode&0o111 != 0:
			add(RuleModeChange, f.Path(), fmt.Sprintf("executable files are refused (%s mode %o)", m.side, m.mode))
		default:
			add(RuleModeChange, f.Path(), fmt.Sprintf("only regular files (mode 100644) may change (%s mode %o)", m.side, m.mode))
		}
	}
}

// checkAdded looks at what the diff adds: secrets, code that runs what it
// downloads, and in configuration any network fetch at all.
func (g *Gate) checkAdded(f patch.File, add func(rule, p, detail string)) {
	var added []string
	for _, frag := range f.Diff.TextFragments {
		for _, l := range frag.Lines {
			if l.Op != gitdiff.OpAdd {
				continue
			}
			added = append(added, strings.TrimSuffix(l.Line, "\n"))
		}
	}
	if len(added) == 0 {
		return
	}
	text := strings.Join(added, "\n")
	if m := runsDownloaded(text); m != "" {
		add(RuleRemoteExec, f.Path(), fmt.Sprintf("added line runs downloaded code: %q", clip(m)))
	}
	for _, k := range g.red.Find(text) {
		add(RuleSecret, f.Path(), fmt.Sprintf("an added line carries a %s", k))
	}
	if !g.isSource(f.Path()) {
		for _, l := range added {
			if m := fetches(l); m != "" {
				add(RuleFetch, f.Path(), fmt.Sprintf("an added line fetches from the network where code does not: %q", clip(l)))
				break
			}
		}
	}
}

// pathProblem says why a repository path may not be touched (the rule
// and the reason), or "" for the reason when it may.
func (g *Gate) pathProblem(p string) (string, string) {
	if reason := unsafePath(p); reason != "" {
		return RuleUnsafePath, reason
	}
	lower := strings.ToLower(p)
	for _, pat := range g.cfg.Deny {
		if match(pat, p) || match(pat, lower) {
			return RuleDeniedPath, "denied by policy.deny " + pat
		}
	}
	if class := g.class(lower); class != "" {
		return RuleDeniedPath, fmt.Sprintf("a %s file (lift the class with policy.allow_classes: [%s])", class, class)
	}
	lifted := false
	for _, name := range g.cfg.AllowClasses {
		for _, pat := range Classes[name] {
			lifted = lifted || match(pat, lower)
		}
	}
	if !lifted && !g.isSource(p) && !g.isConfig(p) {
		return RuleNotAllowed, "not a source file of the repository's languages, nor configuration below the repository root (policy.extensions)"
	}
	if len(g.cfg.Allow) > 0 && !slices.ContainsFunc(g.cfg.Allow, func(a string) bool { return match(a, p) }) {
		return RuleNotAllowed, "not in policy.allow"
	}
	return "", ""
}

// class names the refused class a lower-cased path belongs to, or "".
func (g *Gate) class(lower string) string {
	for _, name := range g.classes {
		for _, pat := range Classes[name] {
			if match(pat, lower) {
				return name
			}
		}
	}
	return ""
}

func (g *Gate) isSource(p string) bool {
	return slices.Contains(g.source, strings.ToLower(path.Ext(p)))
}

func (g *Gate) isConfig(p string) bool {
	return strings.Contains(p, "/") && slices.Contains(g.config, strings.ToLower(path.Ext(p)))
}

// unsafePath says why a path could leave the repository or reach git's
// own files, or "".
func unsafePath(p string) string {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ':' {
			return "unsafe path: control, backslash or colon characters"
		}
	}
	if path.IsAbs(p) || p != path.Clean(p) || p == ".." || strings.HasPrefix(p, "../") || p == "." || p == "" {
		return "unsafe path: must be relative and clean, inside the repository"
	}
	for _, part := range strings.Split(strings.ToLower(p), "/") {
		// .git in any case, and the names Windows and macOS file systems
		// fold onto it (.git., .git followed by spaces, git~1).
		trimmed := strings.TrimRight(part, ". ")
		if trimmed == ".git" || part == "git~1" || strings.HasPrefix(part, ".git\u200c") || strings.HasPrefix(part, ".git\u200d") {
			return "unsafe path: inside .git"
		}
	}
	return ""
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
