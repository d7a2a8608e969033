// Package gemini is the Gemini provider, with the official Google Gen AI
// SDK: on Vertex AI with Application Default Credentials (project and
// location; the service account needs roles/aiplatform.user), or on the
// Gemini API with a key. Structured output is a JSON response schema.
package gemini

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genai"

	"github.com/cloud-sre-agent/sre-agent/internal/llm"
)

// Config configures the provider.
type Config struct {
	// Vertex selects Vertex AI (ADC, Project, Location); else the Gemini
	// API with APIKey.
	Vertex   bool
	Project  string
	Location string
	APIKey   string
	Model    string
	BaseURL  string // tests, private endpoints
	HTTP     *http.Client
}

// Provider calls GenerateContent.
type Provider struct {
	client *genai.Client
	model  string
}

// New builds the provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cc := &genai.ClientConfig{HTTPClient: cfg.HTTP, HTTPOptions: genai.HTTPOptions{BaseURL: cfg.BaseURL}}
	if cfg.Vertex {
		cc.Backend, cc.Project, cc.Location = genai.BackendVertexAI, cfg.Project, cfg.Location
	} else {
		cc.Backend, cc.APIKey = genai.BackendGeminiAPI, cfg.APIKey
	}
	c, err := genai.NewClient(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("gemini client: %w", err)
	}
	return &Provider{client: c, model: cfg.Model}, nil
}

// Name implements llm.Provider.
func (*Provider) Name() string { return "gemini" }

// Complete implements llm.Provider.
func (p *Provider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	model, schema, err := llm.Prepare("gemini", req.Model, p.model, req.Schema)
	if err != nil {
		return llm.Response{}, err
	}
	resp, err := p.client.Models.GenerateContent(ctx, model, genai.Text(req.Prompt), &genai.GenerateContentConfig{
		SystemInstruction:  genai.NewContentFromText(req.System, genai.RoleUser),
		ResponseMIMEType:   "application/json",
		ResponseJsonSchema: schema,
	})
	if err != nil {
		var apiErr genai.APIError
		if errors.As(err, &apiErr) {
			return llm.Response{}, &llm.StatusError{Provider: "gemini", Status: apiErr.Code, Err: err}
		}
		var apiErrP *genai.APIError
		if errors.As(err, &apiErrP) {
			return llm.Response{}, &llm.StatusError{Provider: "gemini", Status: apiErrP.Code, Err: err}
		}
		return llm.Response{}, fmt.Errorf("gemini: %w", err)
	}
	out := llm.Response{Text: resp.Text(), Model: model}
	if u := resp.UsageMetadata; u != nil {
		out.InputTokens, out.OutputTokens = int(u.PromptTokenCount), int(u.CandidatesTokenCount)
	}
	if resp.ModelVersion != "" {
		out.Model = resp.ModelVersion
	}
	return out, nil
}
