package llm

import (
	"context"
	"encoding/json"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Request is one stage's question to a provider.
type Request struct {
	Stage domain.Stage
	Model string
	// System is trusted instruction text; Prompt carries the incident data
	// inside a marked untrusted block, and the question.
	System string
	Prompt string
	// Schema is the JSON schema the answer must satisfy.
	Schema json.RawMessage
	// Evidence is the prompt's data, structured.
	Evidence *domain.Evidence
	// Triage and Analysis are the earlier stages' answers, when there are.
	Triage   *domain.Triage
	Analysis *domain.Analysis
	// Retry holds why the previous answer was refused, on the one retry.
	Retry string
}

// Response is a provider's answer: JSON text for the stage's schema.
type Response struct {
	Text         string
	Model        string
	InputTokens  int
	OutputTokens int
	// Provider is who answered, when a router chose; CostUSD what it cost
	// by the configured prices; Cached an answer reused; Note why a
	// router answered differently than asked (budget spent, data gate).
	Provider string
	CostUSD  float64
	Cached   bool
	Note     string
}

// Provider answers stage requests. Implementations live in their own
// packages (the offline rules; model SDK adapters).
type Provider interface {
	Name() string
	Complete(ctx context.Context, req Request) (Response, error)
}

// EstimateTokens is a provider-independent estimate: about four bytes a
// token for English and log text.
func EstimateTokens(s string) int { return (len(s) + 3) / 4 }
