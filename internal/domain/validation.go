package domain

import (
	"fmt"
	"strings"
)

// ValidationCheck is one tool's verdict on a proposed diff.
type ValidationCheck struct {
	Tool   string `json:"tool"`
	File   string `json:"file"`
	Passed bool   `json:"passed"`
	Output string `json:"output,omitempty"`
}

// Validation is how a proposed diff fared with the language's tools
// (internal/validate): every check; Applied is false when the diff did not apply.
type Validation struct {
	Applied bool              `json:"applied"`
	Error   string            `json:"error,omitempty"`
	Checks  []ValidationCheck `json:"checks"`
	// Sandbox says how the tools were isolated.
	Sandbox string `json:"sandbox,omitempty"`
}

// Passed reports whether the diff applied and every check passed.
func (r Validation) Passed() bool {
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
func (r Validation) Summary() string {
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
