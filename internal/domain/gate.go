package domain

import "slices"

// Violation is one reason a proposal was refused.
type Violation struct {
	Rule   string `json:"rule"`
	Path   string `json:"path,omitempty"`
	Detail string `json:"detail"`
}

// GateDecision is the policy gate's verdict on a proposal (internal/policy).
type GateDecision struct {
	Allowed    bool        `json:"allowed"`
	Violations []Violation `json:"violations,omitempty"`
	// Files are the paths the diff touches.
	Files []string `json:"files,omitempty"`
}

// Rules lists the rules violated, each once.
func (d GateDecision) Rules() []string {
	var out []string
	for _, v := range d.Violations {
		if !slices.Contains(out, v.Rule) {
			out = append(out, v.Rule)
		}
	}
	return out
}
