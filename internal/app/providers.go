package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/anthropic"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/gemini"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/offline"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/openai"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/router"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// keyed is an HTTP client that sends the secret ref in header on every
// request, through the egress transport.
func keyed(st *secrets.Store, tr *egress.Transport, ref, header, prefix string) *http.Client {
	if ref == "" {
		return tr.Client()
	}
	c := tr.Client()
	c.Transport = &secrets.HeaderTransport{Store: st, Ref: ref, Header: header, Prefix: prefix, Base: tr}
	return c
}

// buildProvider is the offline provider alone, or a router over the
// configured primary and fallbacks.
func buildProvider(ctx context.Context, cfg config.Config, st *secrets.Store, tr *egress.Transport, aud audit.Appender, log *slog.Logger, red *redact.Redactor) (llm.Provider, error) {
	pc := cfg.Provider
	if pc.Name == "offline" && len(pc.Fallbacks) == 0 {
		return offline.New(), nil
	}
	var chain []router.Entry
	for i, name := range append([]string{pc.Name}, pc.Fallbacks...) {
		var p llm.Provider
		var rps float64
		var tpm int
		switch name {
		case "offline":
			p = offline.New()
		case "gemini":
			g := pc.Gemini
			gc := gemini.Config{Vertex: g.Vertex, Project: g.Project, Location: g.Location, Model: g.Model, BaseURL: g.BaseURL, HTTP: tr.Client()}
			if !g.Vertex {
				gc.APIKey = "from-secret-store"
				gc.HTTP = keyed(st, tr, g.APIKey, "x-goog-api-key", "")
			}
			gp, err := gemini.New(ctx, gc)
			if err != nil {
				return nil, err
			}
			p, rps, tpm = gp, g.RequestsPerSecond, g.TokensPerMinute
		case "openai", "ollama":
			h := pc.OpenAI
			if name == "ollama" {
				h = pc.Ollama
			}
			p = openai.New(openai.Config{Name: name, BaseURL: h.BaseURL, Model: h.Model, HTTP: keyed(st, tr, h.APIKey, "Authorization", "Bearer ")})
			rps, tpm = h.RequestsPerSecond, h.TokensPerMinute
		case "anthropic":
			h := pc.Anthropic
			p = anthropic.New(anthropic.Config{BaseURL: h.BaseURL, APIKey: "from-secret-store", Model: h.Model,
				HTTP: keyed(st, tr, h.APIKey, "Authorization", "Bearer ")})
			rps, tpm = h.RequestsPerSecond, h.TokensPerMinute
		default:
			return nil, fmt.Errorf("provider %q", name)
		}
		chain = append(chain, router.Entry{Provider: p, ThirdParty: config.ThirdParty(name), RequestsPerSecond: rps, TokensPerMinute: tpm, OwnModel: i > 0})
	}
	return router.New(router.Config{AllowThirdParty: pc.AllowThirdParty, Timeout: pc.Timeout, MaxRetries: pc.MaxRetries,
		DailyTokens: pc.DailyTokens, DailyCostUSD: pc.DailyCostUSD, Prices: pc.Prices},
		chain, offline.New(), red, aud, log)
}
