// Package anthropic is the Anthropic provider, with the official SDK.
// Structured output is a forced tool call: one tool whose input schema is
// the stage's answer schema, and tool_choice naming it.
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
)

// Config configures the provider.
type Config struct {
	BaseURL   string
	APIKey    string
	Model     string
	MaxTokens int64
	HTTP      *http.Client
}

// Provider calls the Messages API.
type Provider struct {
	client    anthropic.Client
	model     string
	maxTokens int64
}

// New builds the provider; the SDK's retries are off (the router decides).
func New(cfg Config) *Provider {
	opts := []option.RequestOption{option.WithMaxRetries(0), option.WithAPIKey(cfg.APIKey)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.HTTP != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTP))
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 4096
	}
	return &Provider{client: anthropic.NewClient(opts...), model: cfg.Model, maxTokens: cfg.MaxTokens}
}

// Name implements llm.Provider.
func (*Provider) Name() string { return "anthropic" }

const toolName = "answer"

// Complete implements llm.Provider.
func (p *Provider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	model := req.Model
	if model == "" {
		model = p.model
	}
	var schema struct {
		Properties any      `json:"properties"`
		Required   []string `json:"required"`
	}
	if err := json.Unmarshal(req.Schema, &schema); err != nil {
		return llm.Response{}, fmt.Errorf("anthropic: schema: %w", err)
	}
	msg, err := p.client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: p.maxTokens,
		System:    []anthropic.TextBlockParam{{Text: req.System}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(req.Prompt))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: toolName,
			InputSchema: anthropic.ToolInputSchemaParam{Properties: schema.Properties, Required: schema.Required}}}},
		ToolChoice: anthropic.ToolChoiceParamOfTool(toolName),
	})
	if err != nil {
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			se := &llm.StatusError{Provider: "anthropic", Status: apiErr.StatusCode, Err: err}
			if apiErr.Response != nil {
				se.RetryAfter = backoff.RetryAfter(apiErr.Response.Header)
			}
			return llm.Response{}, se
		}
		return llm.Response{}, fmt.Errorf("anthropic: %w", err)
	}
	for _, b := range msg.Content {
		if b.Type == "tool_use" && b.Name == toolName {
			return llm.Response{Text: string(b.Input), Model: string(msg.Model),
				InputTokens: int(msg.Usage.InputTokens), OutputTokens: int(msg.Usage.OutputTokens)}, nil
		}
	}
	return llm.Response{}, errors.New("anthropic: the answer has no tool call")
}
