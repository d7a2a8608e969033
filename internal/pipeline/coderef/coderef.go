// Package coderef finds the source an incident points to: stack frames
// mapped to repository paths, files named in the error text, and, when
// there are neither, the place that logs the error template's constant
// text. It returns line windows, most relevant first, within a byte
// budget, each with the version (content hash) of the file it came from,
// so a fix can be checked against exactly what the model read.
package coderef

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Repo maps a service to the repository it is built from.
type Repo struct {
	// Service is the service's name as incidents show it, or a resource
	// label match such as service_name.
	Service string `yaml:"service"`
	// Path is a local checkout of the repository.
	Path string `yaml:"path"`
	// BaseBranch names the branch the checkout holds (for the record).
	BaseBranch string `yaml:"base_branch"`
	// PathPrefix limits the service to a directory of a monorepo.
	PathPrefix string `yaml:"path_prefix"`
	// Language names the code's language (go, java, python, node, dotnet)
	// when its files do not say.
	Language string `yaml:"language"`
	// Source "scm" reads the repository through the delivery target's API
	// (GitHub contents and trees at the base branch) instead of Path.
	Source string `yaml:"source"`
	// Labels, when set, must all match the incident's resource labels
	// (resource_type and the LogEntry's resource.labels).
	Labels map[string]string `yaml:"labels"`
}

// matches reports whether the entry is the incident's repository.
func (r Repo) matches(in domain.Incident) bool {
	if r.Service != "" && r.Service != "*" && r.Service != in.Service {
		return false
	}
	for k, v := range r.Labels {
		if in.Labels[k] != v {
			return false
		}
	}
	return true
}

// Source reads a repository.
type Source interface {
	Files(ctx context.Context) ([]string, error)
	Read(ctx context.Context, path string) (string, error)
	// Revision names what Files and Read see (a commit); the finder's
	// cache is kept per revision.
	Revision(ctx context.Context) (string, error)
}

// Local reads a checkout on disk; vendored and hidden directories are
// skipped.
type Local struct{ Root string }

// Files implements Source.
func (l Local) Files(context.Context) ([]string, error) {
	var out []string
	err := filepath.WalkDir(l.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != l.Root && (strings.HasPrefix(name, ".") || name == "vendor" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(l.Root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// Revision implements Source: the checkout's HEAD commit, when it is a git
// work tree.
func (l Local) Revision(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", l.Root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", nil // not a git work tree: one revision
	}
	return strings.TrimSpace(string(out)), nil
}

// Read implements Source.
func (l Local) Read(_ context.Context, p string) (string, error) {
	if strings.Contains(p, "..") {
		return "", fmt.Errorf("path %s leaves the repository", p)
	}
	b, err := os.ReadFile(filepath.Join(l.Root, filepath.FromSlash(p)))
	return string(b), err
}

// Version is a file content's version.
func Version(content string) string {
	h := sha256.Sum256([]byte(content))
	return hex.EncodeToString(h[:8])
}

// Finder gathers windows from one repository. It caches file reads.
type Finder struct {
	src    Source
	prefix string
	mu     sync.Mutex
	rev    string
	files  []string
	cache  map[string]string
}

// NewFinder reads repository src; prefix limits it to a directory.
func NewFinder(src Source, prefix string) *Finder {
	return &Finder{src: src, prefix: strings.Trim(prefix, "/"), cache: map[string]string{}}
}

func (f *Finder) list(ctx context.Context) ([]string, error) {
	rev, err := f.src.Revision(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rev != f.rev { // a new commit: what was cached is stale
		f.rev, f.files, f.cache = rev, nil, map[string]string{}
	}
	if f.files != nil {
		return f.files, nil
	}
	all, err := f.src.Files(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		if f.prefix == "" || strings.HasPrefix(p, f.prefix+"/") {
			f.files = append(f.files, p)
		}
	}
	return f.files, nil
}

func (f *Finder) read(ctx context.Context, p string) (string, error) {
	f.mu.Lock()
	c, ok := f.cache[p]
	f.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := f.src.Read(ctx, p)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.cache[p] = c
	f.mu.Unlock()
	return c, nil
}

// MapPath finds the repository file a frame or error-text path names: the
// longest repository path that is a suffix of it (build prefixes such as
// /src/ or /app/ fall away), or of which it is a suffix (a Java package
// path under src/main/java).
func MapPath(files []string, p string) (string, bool) {
	p = strings.TrimPrefix(filepath.ToSlash(p), "./")
	best := ""
	for _, f := range files {
		if p == f || strings.HasSuffix(p, "/"+f) || strings.HasSuffix(f, "/"+p) {
			if len(f) > len(best) {
				best = f
			}
		}
	}
	return best, best != ""
}

var pathInText = regexp.MustCompile(`[\w./-]+\.(go|py|js|mjs|ts|java|kt|cs|rb|php|rs)\b`)

// Inputs are what points at code.
type Inputs struct {
	Frames    []domain.Frame
	Texts     []string // error messages and samples
	Templates []string // template texts, for a search when nothing else points anywhere
}

// Gather returns windows within budget bytes, most relevant first:
// application frames innermost first, files named in the error text, then
// where the template's constant text appears.
func (f *Finder) Gather(ctx context.Context, in Inputs, budget int) ([]domain.CodeWindow, error) {
	files, err := f.list(ctx)
	if err != nil {
		return nil, err
	}
	type want struct {
		path string
		line int
		why  string
	}
	var wants []want
	for _, fr := range in.Frames {
		if !fr.InApp {
			continue
		}
		if p, ok := MapPath(files, fr.File); ok {
			wants = append(wants, want{p, fr.Line, "stack frame " + fr.String()})
		}
	}
	for _, t := range in.Texts {
		for _, m := range pathInText.FindAllString(t, -1) {
			if p, ok := MapPath(files, m); ok {
				wants = append(wants, want{p, lineIn(t, m), "named in the error text"})
			}
		}
	}
	if len(wants) == 0 {
		for _, tmpl := range in.Templates {
			needle := constantText(tmpl)
			if needle == "" {
				continue
			}
			for _, p := range files {
				c, err := f.read(ctx, p)
				if err != nil {
					continue
				}
				if i := strings.Index(c, needle); i >= 0 {
					wants = append(wants, want{p, strings.Count(c[:i], "\n") + 1, fmt.Sprintf("logs %q", needle)})
				}
			}
		}
	}
	var out []domain.CodeWindow
	used := 0
	seen := map[string]bool{}
	for _, w := range wants {
		key := fmt.Sprintf("%s:%d", w.path, w.line)
		if seen[key] {
			continue
		}
		seen[key] = true
		c, err := f.read(ctx, w.path)
		if err != nil {
			continue
		}
		win := window(w.path, c, w.line, w.why)
		if overlaps(out, win) {
			continue
		}
		if used+len(win.Text) > budget {
			if len(out) == 0 && budget > 0 {
				win.Text = win.Text[:budget]
				out = append(out, win)
			}
			break
		}
		used += len(win.Text)
		out = append(out, win)
	}
	return out, nil
}

// lineIn is the line number a "file:line" reference gives, else 1.
func lineIn(text, path string) int {
	i := strings.Index(text, path)
	rest := text[i+len(path):]
	if strings.HasPrefix(rest, ":") {
		n := 0
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if n > 0 {
			return n
		}
	}
	return 1
}

// constantText is the longest run of a template's constant words, if it
// is long enough to be worth searching for.
func constantText(tmpl string) string {
	best, cur := "", []string{}
	flush := func() {
		if s := strings.Join(cur, " "); len(s) > len(best) {
			best = s
		}
		cur = cur[:0]
	}
	for _, w := range strings.Fields(tmpl) {
		if strings.Contains(w, "<*>") {
			flush()
			continue
		}
		cur = append(cur, w)
	}
	flush()
	if len(best) < 12 || len(strings.Fields(best)) < 2 {
		return ""
	}
	return best
}

const before, after = 20, 15

// window is the lines around line: the enclosing function's start when it
// is near, and a few lines after.
func window(p, content string, line int, why string) domain.CodeWindow {
	lines := strings.Split(content, "\n")
	if line < 1 || line > len(lines) {
		line = 1
	}
	start := max(1, line-before)
	for i := line; i >= start; i-- { // begin at the enclosing function when it is near
		t := lines[i-1]
		if strings.HasPrefix(t, "func ") || strings.HasPrefix(t, "def ") || strings.HasPrefix(t, "function ") ||
			strings.HasPrefix(strings.TrimSpace(t), "def ") || strings.Contains(t, " class ") {
			start = i
			break
		}
	}
	end := min(len(lines), line+after)
	var b strings.Builder
	for i := start; i <= end; i++ {
		fmt.Fprintf(&b, "%d: %s\n", i, lines[i-1])
	}
	return domain.CodeWindow{Path: p, Start: start, End: end, Version: Version(content), Why: why, Text: b.String()}
}

func overlaps(ws []domain.CodeWindow, w domain.CodeWindow) bool {
	for _, o := range ws {
		if o.Path == w.Path && w.Start <= o.End && o.Start <= w.End {
			return true
		}
	}
	return false
}

// Map finds the repository of a service.
type Map struct {
	repos   []Repo
	finders map[string]*Finder
	mu      sync.Mutex
	// SCM reads repositories through the delivery target's API, for
	// entries with source: scm and no path.
	SCM Source
	// Budget bounds the bytes of code gathered per incident.
	Budget int
}

// Find gathers the code an incident points to (pipeline.CodeFinder).
func (m *Map) Find(ctx context.Context, in domain.Incident, frames []domain.Frame) ([]domain.CodeWindow, error) {
	f, _ := m.For(in)
	if f == nil {
		return nil, nil
	}
	texts := append([]string{in.Stack}, in.Samples...)
	var tmpls []string
	for _, t := range in.Templates {
		tmpls = append(tmpls, t.Text)
	}
	budget := m.Budget
	if budget <= 0 {
		budget = 12000
	}
	return f.Gather(ctx, Inputs{Frames: frames, Texts: texts, Templates: tmpls}, budget)
}

// Root is the checkout of an incident's repository ("" if none).
func (m *Map) Root(in domain.Incident) string {
	_, r := m.For(in)
	return r.Path
}

// NewMap builds the service map.
func NewMap(repos []Repo) (*Map, error) {
	for _, r := range repos {
		if (r.Service == "" && len(r.Labels) == 0) || (r.Path == "" && r.Source != "scm") {
			return nil, errors.New("repos: each entry needs service or labels, and path (a local checkout) or source: scm")
		}
	}
	return &Map{repos: repos, finders: map[string]*Finder{}}, nil
}

// For returns the finder of an incident's repository (the first entry
// that matches its service and labels), or nil.
func (m *Map) For(in domain.Incident) (*Finder, Repo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.repos {
		if r.matches(in) {
			f := m.finders[r.Path+"|"+r.PathPrefix]
			if f == nil {
				var src Source = Local{Root: r.Path}
				if r.Path == "" {
					if m.SCM == nil {
						return nil, r
					}
					src = m.SCM
				}
				f = NewFinder(src, r.PathPrefix)
				m.finders[r.Path+"|"+r.PathPrefix] = f
			}
			return f, r
		}
	}
	return nil, Repo{}
}

// SortByPath orders windows by path and line, for stable output.
func SortByPath(ws []domain.CodeWindow) {
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].Path != ws[j].Path {
			return ws[i].Path < ws[j].Path
		}
		return ws[i].Start < ws[j].Start
	})
}
