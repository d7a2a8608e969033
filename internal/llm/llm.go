// Package llm is the port model providers answer by: a stage's Request,
// the Response, the Provider interface every adapter (the offline rules,
// Gemini, OpenAI, Anthropic, the router) implements, and what they share:
// the error that says whether a failed call may be retried and when.
package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// StatusError is a model API's refusal with its HTTP status.
type StatusError struct {
	Provider   string
	Status     int
	RetryAfter time.Duration // from Retry-After, when the API sent one
	Err        error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %v", e.Provider, e.Status, e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// Retryable reports whether trying again (after RetryAfter) may succeed:
// rate limits, overload and server errors.
func (e *StatusError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// AsStatus finds a StatusError in err.
func AsStatus(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}

// Prepare is what every adapter does first: the stage's model (else the
// provider's default) and the answer schema as a JSON object, without its
// "$schema" key (APIs take the schema body only).
func Prepare(provider string, modelName, defaultModel string, schema json.RawMessage) (string, map[string]any, error) {
	if modelName == "" {
		modelName = defaultModel
	}
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		return "", nil, fmt.Errorf("%s: schema: %w", provider, err)
	}
	delete(s, "$schema")
	return modelName, s, nil
}
