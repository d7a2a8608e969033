package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// PerStage is a setting with a value for each stage.
type PerStage[T any] struct {
	// Triage is the value for the triage stage.
	Triage T `yaml:"triage"`
	// Analysis is the value for the root-cause analysis stage.
	Analysis T `yaml:"analysis"`
	// Remediation is the value for the remediation stage.
	Remediation T `yaml:"remediation"`
}

// Of is the stage's value.
func (v PerStage[T]) Of(st domain.Stage) T {
	switch st {
	case domain.StageTriage:
		return v.Triage
	case domain.StageAnalysis:
		return v.Analysis
	}
	return v.Remediation
}

// Models names the model each stage asks; empty leaves the provider's
// default (a fast model suits triage, a strong one the other two).
type Models = PerStage[string]

// Pipeline tunes the pipeline (internal/pipeline).
type Pipeline struct {
	// Models names the model each stage asks; empty leaves the provider's
	// default (a fast model suits triage, a strong one the other two).
	Models Models `yaml:"models"`
	// TokenBudget bounds each stage's prompt, in estimated tokens.
	TokenBudget PerStage[int] `yaml:"token_budget"`
	// StageTimeout bounds one model call or delivery.
	StageTimeout time.Duration `yaml:"stage_timeout"`
	// MaxErrors is how many provider or delivery errors an incident may
	// meet in one stage before it fails.
	MaxErrors int `yaml:"max_errors"`
	// RetryBackoff is the wait after the first error; it doubles.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// ReopenAfter is the quiet period after which an incident that occurs
	// again gets a new pipeline run.
	ReopenAfter time.Duration `yaml:"reopen_after"`
	// Bounds limit model calls and deliveries per repository.
	Bounds Bounds `yaml:"bounds"`
}

// DefaultPipeline suits the offline provider and a hosted model alike.
func DefaultPipeline() Pipeline {
	return Pipeline{TokenBudget: PerStage[int]{Triage: 2000, Analysis: 6000, Remediation: 6000}, StageTimeout: 2 * time.Minute, MaxErrors: 3, RetryBackoff: 5 * time.Second, ReopenAfter: 6 * time.Hour,
		Bounds: DefaultBounds()}
}

// Validate checks the settings.
func (c Pipeline) Validate() error {
	for _, st := range domain.Stages {
		if c.TokenBudget.Of(st) < 500 {
			return fmt.Errorf("pipeline: token_budget.%s must be at least 500", st)
		}
	}
	switch {
	case c.StageTimeout <= 0:
		return errors.New("pipeline: stage_timeout must be positive")
	case c.MaxErrors < 1:
		return errors.New("pipeline: max_errors must be at least 1")
	case c.RetryBackoff < 0:
		return errors.New("pipeline: retry_backoff must not be negative")
	case c.ReopenAfter <= 0:
		return errors.New("pipeline: reopen_after must be positive")
	case c.Bounds.ModelCallsPerHour < 0 || c.Bounds.DeliveriesPerHour < 0:
		return errors.New("pipeline: bounds must not be negative (0: no bound)")
	}
	return nil
}

// Bounds are what a flood of incidents may cost: anyone who can write log
// text can make incidents, so model calls and deliveries are limited per
// repository per hour. Work over a bound waits (the incident keeps its
// state, with Run.Deferred saying why) and resumes when the hour allows;
// it is counted, audited once per bound and repository per hour, and
// never dropped.
type Bounds struct {
	// ModelCallsPerHour bounds model calls for one repository's incidents
	// (0: no bound).
	ModelCallsPerHour int `yaml:"model_calls_per_hour"`
	// DeliveriesPerHour bounds pull requests, merge requests and comments
	// written to one repository (0: no bound). Local reports are not a
	// repository and are not bounded here.
	DeliveriesPerHour int `yaml:"deliveries_per_hour"`
}

// DefaultBounds suit a team's repository: a few draft pull requests an
// hour, and the model calls of twenty incidents.
func DefaultBounds() Bounds { return Bounds{ModelCallsPerHour: 60, DeliveriesPerHour: 3} }

// Price is a model's cost in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `yaml:"input_per_mtok"`
	OutputPerMTok float64 `yaml:"output_per_mtok"`
}
