// Package local is the default delivery target: per incident a
// Markdown report and, when the proposal has a diff, a .patch file, in a
// directory on disk. With a repository path configured, a patch is kept
// only if `git apply --check` accepts it there. Delivering an incident
// again replaces its files.
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/report"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
)

// Name is the target's name in config, metrics and the audit log.
const Name = "local"

// Target writes reports.
type Target struct {
	cfg config.LocalTarget
}

// New builds the target; the directory is created on first delivery.
func New(cfg config.LocalTarget) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RepoPath != "" {
		if _, err := exec.LookPath("git"); err != nil {
			return nil, fmt.Errorf("delivery: repo_path is set but git is not installed: %w", err)
		}
	}
	return &Target{cfg: cfg}, nil
}

// Name implements delivery.Deliverer.
func (*Target) Name() string { return Name }

// Deliver writes the report and patch of one incident.
func (t *Target) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	if err := os.MkdirAll(t.cfg.Dir, 0o750); err != nil {
		return domain.Delivery{}, fmt.Errorf("create report directory: %w", err)
	}
	base := filepath.Join(t.cfg.Dir, string(p.Incident.Fingerprint))
	var files []string
	if p.Remediation.Diff != "" {
		patch := base + ".patch"
		diff := p.Remediation.Diff
		if !strings.HasSuffix(diff, "\n") {
			diff += "\n"
		}
		if err := writeAtomic(patch, []byte(diff)); err != nil {
			return domain.Delivery{}, err
		}
		if t.cfg.RepoPath != "" {
			if err := applyCheck(ctx, t.cfg.RepoPath, patch); err != nil {
				os.Remove(patch)
				return domain.Delivery{}, err
			}
		}
		files = append(files, patch)
	}
	var md bytes.Buffer
	if err := report.Markdown(&md, p, inert.Markdown{Hosts: append(t.cfg.Links.Hosts(), t.cfg.LinkHosts...)}, t.cfg.Links); err != nil {
		return domain.Delivery{}, err
	}
	if len(files) > 0 {
		fmt.Fprintf(&md, "\nThe diff is also in `%s`", filepath.Base(files[0]))
		if t.cfg.RepoPath != "" {
			md.WriteString("; `git apply --check` accepted it against the configured repository")
		}
		md.WriteString(".\n")
	}
	report := base + ".md"
	if err := writeAtomic(report, md.Bytes()); err != nil {
		return domain.Delivery{}, err
	}
	files = append([]string{report}, files...)
	return domain.Delivery{Target: Name, Location: report, Files: files}, nil
}

// applyCheck asks git whether the patch applies to the work tree. A patch
// that does not is a rejection, not an error to retry.
func applyCheck(ctx context.Context, repo, patch string) error {
	abs, err := filepath.Abs(patch)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "apply", "--check", abs)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &delivery.RejectError{Violation: domain.Violation{Rule: policy.RulePatchNotApply,
				Detail: "git apply --check: " + strings.TrimSpace(stderr.String())}}
		}
		return fmt.Errorf("run git apply --check: %w", err)
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
