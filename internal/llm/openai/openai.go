// Package openai is the OpenAI provider, with the official SDK and
// structured output (a JSON schema response format). A base URL serves
// OpenAI-compatible servers, Ollama's among them.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
)

// Provider calls the Chat Completions API.
type Provider struct {
	name   string
	client openai.Client
	model  string
}

// Config configures a provider.
type Config struct {
	Name    string // "openai" or "ollama"
	BaseURL string // empty: api.openai.com
	APIKey  string // resolved from a secret reference; empty for Ollama
	Model   string // the default model
	HTTP    *http.Client
}

// New builds the provider. The SDK's own retries are off: the router
// decides.
func New(cfg Config) *Provider {
	opts := []option.RequestOption{option.WithMaxRetries(0)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey("unused"))
	}
	if cfg.HTTP != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTP))
	}
	name := cfg.Name
	if name == "" {
		name = "openai"
	}
	return &Provider{name: name, client: openai.NewClient(opts...), model: cfg.Model}
}

// Name implements llm.Provider.
func (p *Provider) Name() string { return p.name }

// Complete implements llm.Provider.
func (p *Provider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	model, schema, err := llm.Prepare(p.name, req.Model, p.model, req.Schema)
	if err != nil {
		return llm.Response{}, err
	}
	resp, err := p.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    shared.ChatModel(model),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(req.System), openai.UserMessage(req.Prompt)},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: string(req.Stage), Schema: schema}}},
	})
	if err != nil {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			se := &llm.StatusError{Provider: p.name, Status: apiErr.StatusCode, Err: err}
			if apiErr.Response != nil {
				se.RetryAfter = backoff.RetryAfter(apiErr.Response.Header)
			}
			return llm.Response{}, se
		}
		return llm.Response{}, fmt.Errorf("%s: %w", p.name, err)
	}
	if len(resp.Choices) == 0 {
		return llm.Response{}, fmt.Errorf("%s: no choices in the answer", p.name)
	}
	return llm.Response{Text: resp.Choices[0].Message.Content, Model: resp.Model,
		InputTokens: int(resp.Usage.PromptTokens), OutputTokens: int(resp.Usage.CompletionTokens)}, nil
}
