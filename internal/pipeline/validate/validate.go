// Package validate checks a proposed diff the way a reviewer's machine
// would, after the policy gate has passed it: the repository is copied to
// a temporary work tree, the diff applied there, and each changed file
// checked by its language (Go: gofmt and go vet on its package; Python:
// py_compile; JavaScript: node --check).
//
// The diff came from a model and is untrusted, so validation is a
// sandbox: it writes only clean relative paths inside its copy (checked
// after joining), never follows a rename or copy source, and runs each
// tool with a scrubbed environment (PATH and the tool's own settings,
// nothing inherited: no GOFLAGS, no go env file, no cgo, no toolchain or
// module downloads, a temporary HOME), in its own process group with a
// time and output limit, and in a network namespace of its own where the
// kernel allows one (Result.Sandbox says which). Only compilers and
// syntax checkers run; nothing the diff adds is executed.
package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/patch"
)

// Limits of each tool run.
const (
	Timeout   = 60 * time.Second
	MaxOutput = 64 << 10 // bytes read of a tool's output
	keep      = 2000     // bytes of it kept in the result
)

// Run validates diff against the checkout at root.
func Run(ctx context.Context, root, diff string) domain.Validation {
	p, err := patch.Parse(diff)
	if err != nil {
		return domain.Validation{Error: err.Error()}
	}
	tmp, err := os.MkdirTemp("", "sre-agent-validate-")
	if err != nil {
		return domain.Validation{Error: err.Error()}
	}
	defer os.RemoveAll(tmp)
	tree, home := filepath.Join(tmp, "tree"), filepath.Join(tmp, "home")
	for _, d := range []string{tree, home, filepath.Join(home, "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return domain.Validation{Error: err.Error()}
		}
	}
	if err := copyTree(root, tree); err != nil {
		return domain.Validation{Error: "copy the work tree: " + err.Error()}
	}
	changed, err := apply(tree, p)
	if err != nil {
		return domain.Validation{Error: err.Error()}
	}
	sb := newSandbox(tree, home)
	res := domain.Validation{Applied: true, Sandbox: sb.describe()}
	for _, name := range changed {
		switch filepath.Ext(name) {
		case ".go":
			c := sb.run(ctx, name, "gofmt", "gofmt", "-l", name)
			if c.Passed && strings.TrimSpace(c.Output) != "" {
				c.Passed, c.Output = false, "not gofmt-formatted"
			}
			res.Checks = append(res.Checks, c, sb.run(ctx, name, "go vet", "go", "vet", "./"+filepath.ToSlash(filepath.Dir(name))))
		case ".py":
			// -I: isolated, so the tree's own modules (a py_compile.py,
			// a sitecustomize.py) can never shadow the standard library.
			res.Checks = append(res.Checks, sb.run(ctx, name, "py_compile", "python3", "-I", "-m", "py_compile", name))
		case ".js", ".mjs", ".cjs":
			res.Checks = append(res.Checks, sb.run(ctx, name, "node --check", "node", "--check", name))
		}
	}
	// Drop checks whose tool is not installed: nothing to say.
	kept := res.Checks[:0]
	for _, c := range res.Checks {
		if c.Output != "not installed" {
			kept = append(kept, c)
		}
	}
	res.Checks = kept
	return res
}

// apply writes each changed file into the tree and returns their paths.
// Only edits and creations of clean relative paths inside the tree are
// written.
func apply(tree string, p *patch.Patch) ([]string, error) {
	var changed []string
	for _, f := range p.Files {
		if f.IsDelete || f.IsRename || f.IsCopy || f.IsBinary || (f.Old != "" && f.Old != f.New) {
			return nil, fmt.Errorf("%s: validation applies only edits and new files", f.Path())
		}
		dst, err := inside(tree, f.New)
		if err != nil {
			return nil, err
		}
		var old []byte
		if !f.IsNew {
			if old, err = os.ReadFile(dst); err != nil {
				return nil, fmt.Errorf("%s: %w", f.New, err)
			}
		} else if _, err := os.Lstat(dst); err == nil {
			return nil, fmt.Errorf("%s: the diff creates a file that exists", f.New)
		}
		var out bytes.Buffer
		if err := gitdiff.Apply(&out, bytes.NewReader(old), f.Diff); err != nil {
			return nil, fmt.Errorf("%s: %v", f.New, err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, out.Bytes(), 0o600); err != nil {
			return nil, err
		}
		changed = append(changed, f.New)
	}
	return changed, nil
}

// inside joins a repository path to the tree and checks, after joining
// and with every existing parent resolved, that it stays inside.
func inside(tree, name string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", fmt.Errorf("%q is not a clean relative path", name)
	}
	dst := filepath.Join(tree, filepath.FromSlash(name))
	rel, err := filepath.Rel(tree, dst)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%q leaves the work tree", name)
	}
	for dir := filepath.Dir(dst); dir != tree && len(dir) > len(tree); dir = filepath.Dir(dir) {
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%q passes through a symbolic link", name)
		}
	}
	if fi, err := os.Lstat(dst); err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%q is not a regular file", name)
	}
	return dst, nil
}

// copyTree copies the regular files of src (never .git, node_modules or
// a symbolic link) into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel != "." && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	if c.buf.Len() >= c.max {
		c.dropped = true
	}
	return len(p), nil
}

// sandbox runs tools in the tree.
type sandbox struct {
	tree  string
	env   []string
	netns error // nil when tools get their own network namespace
}

func newSandbox(tree, home string) *sandbox {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + filepath.Join(home, "tmp"), "LANG=C.UTF-8",
		// Go: no go env file, no flags, no cgo (so no C compiler), no
		// toolchain switch, no module or checksum downloads.
		"GOENV=off", "GOFLAGS=", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off",
		"GOPATH=" + filepath.Join(home, "go"), "GOCACHE=" + filepath.Join(home, "gocache"), "GOTELEMETRY=off",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1",
	}
	// The agent's module cache, read only by the go command with the
	// proxy off, so a repository's dependencies resolve without network.
	if mc := hostModCache(); mc != "" {
		env = append(env, "GOMODCACHE="+mc)
	}
	return &sandbox{tree: tree, env: env, netns: netnsAvailable()}
}

func (s *sandbox) describe() string {
	d := "scrubbed environment, temporary HOME, process group, time and output limits"
	if s.netns != nil {
		return d + "; network namespace not available (" + s.netns.Error() + "): no proxy or download is configured"
	}
	return d + ", own network namespace (no network)"
}

func (s *sandbox) run(ctx context.Context, file, name, bin string, args ...string) domain.ValidationCheck {
	path, err := exec.LookPath(bin)
	if err != nil {
		return domain.ValidationCheck{Tool: name, File: file, Output: "not installed"}
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir, cmd.Env = s.tree, s.env
	isolate(cmd, s.netns == nil)
	var out capped
	out.max = MaxOutput
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	c := domain.ValidationCheck{Tool: name, File: file, Passed: err == nil, Output: out.buf.String()}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		c.Passed, c.Output = false, fmt.Sprintf("timed out after %v", Timeout)
	}
	if len(c.Output) > keep || out.dropped {
		c.Output = c.Output[:min(len(c.Output), keep)] + "\n[output cut]"
	}
	return c
}

func hostModCache() string {
	mc := os.Getenv("GOMODCACHE")
	if mc == "" {
		gp := os.Getenv("GOPATH")
		if gp == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			gp = filepath.Join(h, "go")
		}
		mc = filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if fi, err := os.Stat(mc); err != nil || !fi.IsDir() {
		return ""
	}
	return mc
}
