// Package validate checks a proposed diff the way a reviewer's machine
// would, where the toolchain is installed: the repository is copied to a
// temporary work tree, the diff applied, and each changed file checked by
// its language (Go: gofmt and go vet on its package; Python: py_compile;
// JavaScript: node --check), with a timeout and no network.
package validate

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/cloud-sre-agent/sre-agent/internal/policy"
)

// Check is one tool's verdict.
type Check struct {
	Tool   string `json:"tool"`
	File   string `json:"file"`
	Passed bool   `json:"passed"`
	Output string `json:"output,omitempty"`
}

// Result is every check; Applied is false when the diff did not apply.
type Result struct {
	Applied bool    `json:"applied"`
	Error   string  `json:"error,omitempty"`
	Checks  []Check `json:"checks"`
}

// Passed reports whether the diff applied and every check passed.
func (r Result) Passed() bool {
	if !r.Applied {
		return false
	}
	for _, c := range r.Checks {
		if !c.Passed {
			return false
		}
	}
	return true
}

// Summary is one line per check, for a pull request body.
func (r Result) Summary() string {
	if !r.Applied {
		return "the diff does not apply: " + r.Error
	}
	if len(r.Checks) == 0 {
		return "no checker for the changed files is installed"
	}
	var b strings.Builder
	for _, c := range r.Checks {
		st := "passed"
		if !c.Passed {
			st = "FAILED: " + strings.TrimSpace(c.Output)
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", c.Tool, c.File, st)
	}
	return b.String()
}

// Timeout bounds each tool.
const Timeout = 60 * time.Second

// Run validates diff against the checkout at root.
func Run(ctx context.Context, root, diff string) Result {
	tmp, err := os.MkdirTemp("", "sre-agent-validate-")
	if err != nil {
		return Result{Error: err.Error()}
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		return Result{Error: "copy the work tree: " + err.Error()}
	}
	files, _, err := gitdiff.Parse(strings.NewReader(diff))
	if err != nil {
		return Result{Error: err.Error()}
	}
	var changed []string
	for _, f := range files {
		name := policy.RepoPath(diff, f.NewName)
		old, _ := os.ReadFile(filepath.Join(tmp, filepath.FromSlash(policy.RepoPath(diff, f.OldName))))
		var out bytes.Buffer
		if err := gitdiff.Apply(&out, bytes.NewReader(old), f); err != nil {
			return Result{Error: fmt.Sprintf("%s: %v", name, err)}
		}
		dst := filepath.Join(tmp, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
			return Result{Error: err.Error()}
		}
		changed = append(changed, name)
	}
	res := Result{Applied: true}
	for _, name := range changed {
		switch filepath.Ext(name) {
		case ".go":
			res.Checks = append(res.Checks, tool(ctx, tmp, name, "gofmt", "gofmt", "-l", name))
			if c := res.Checks[len(res.Checks)-1]; c.Passed && strings.TrimSpace(c.Output) != "" {
				res.Checks[len(res.Checks)-1].Passed = false
				res.Checks[len(res.Checks)-1].Output = "not gofmt-formatted"
			}
			res.Checks = append(res.Checks, tool(ctx, tmp, name, "go vet", "go", "vet", "./"+filepath.ToSlash(filepath.Dir(name))))
		case ".py":
			res.Checks = append(res.Checks, tool(ctx, tmp, name, "py_compile", "python3", "-m", "py_compile", name))
		case ".js", ".mjs", ".cjs":
			res.Checks = append(res.Checks, tool(ctx, tmp, name, "node --check", "node", "--check", name))
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

func tool(ctx context.Context, dir, file, name, bin string, args ...string) Check {
	if _, err := exec.LookPath(bin); err != nil {
		return Check{Tool: name, File: file, Output: "not installed"}
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	// No network: the module proxy, checksum database and toolchain
	// downloads are off; only what the tree and the local caches hold.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GONOSUMDB=*", "GOFLAGS=", "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	c := Check{Tool: name, File: file, Passed: err == nil, Output: string(out)}
	if len(c.Output) > 2000 {
		c.Output = c.Output[:2000]
	}
	return c
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if rel != "." && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
