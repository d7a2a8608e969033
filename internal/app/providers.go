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
		k, ok := providerKinds[name]
		if !ok {
			return nil, fmt.Errorf("provider %q", name)
		}
		p, limits, err := k(ctx, pc, st, tr)
		if err != nil {
			return nil, err
		}
		chain = append(chain, router.Entry{Provider: p, ThirdParty: config.ThirdParty(name), RequestsPerSecond: limits.rps, TokensPerMinute: limits.tpm, OwnModel: i > 0})
	}
	return router.New(router.Config{AllowThirdParty: pc.AllowThirdParty, Timeout: pc.Timeout, MaxRetries: pc.MaxRetries,
		DailyTokens: pc.DailyTokens, DailyCostUSD: pc.DailyCostUSD, Prices: pc.Prices},
		chain, offline.New(), red, aud, log)
}

// rate is a provider's own request and token rate, for the router.
type rate struct {
	rps float64
	tpm int
}

// providerKinds build each provider the router can hold, by name; what is
// known of each (third party, endpoint and key settings) is config's
// Providers table, which config, doctor and this wiring read, and a test
// keeps the two naming the same kinds.
var providerKinds = map[string]func(ctx context.Context, pc config.Provider, st *secrets.Store, tr *egress.Transport) (llm.Provider, rate, error){
	"offline": func(context.Context, config.Provider, *secrets.Store, *egress.Transport) (llm.Provider, rate, error) {
		return offline.New(), rate{}, nil
	},
	"gemini": func(ctx context.Context, pc config.Provider, st *secrets.Store, tr *egress.Transport) (llm.Provider, rate, error) {
		g := pc.Gemini
		gc := gemini.Config{Vertex: g.Vertex, Project: g.Project, Location: g.Location, Model: g.Model, BaseURL: g.BaseURL, HTTP: tr.Client()}
		if !g.Vertex {
			gc.APIKey = "from-secret-store"
			gc.HTTP = keyed(st, tr, g.APIKey, "x-goog-api-key", "")
		}
		p, err := gemini.New(ctx, gc)
		return p, rate{g.RequestsPerSecond, g.TokensPerMinute}, err
	},
	"openai": func(_ context.Context, pc config.Provider, st *secrets.Store, tr *egress.Transport) (llm.Provider, rate, error) {
		return openAICompatible("openai", pc.OpenAI, st, tr)
	},
	"ollama": func(_ context.Context, pc config.Provider, st *secrets.Store, tr *egress.Transport) (llm.Provider, rate, error) {
		return openAICompatible("ollama", pc.Ollama, st, tr)
	},
	"anthropic": func(_ context.Context, pc config.Provider, st *secrets.Store, tr *egress.Transport) (llm.Provider, rate, error) {
		h := pc.Anthropic
		return anthropic.New(anthropic.Config{BaseURL: h.BaseURL, APIKey: "from-secret-store", Model: h.Model,
			HTTP: keyed(st, tr, h.APIKey, "Authorization", "Bearer ")}), rate{h.RequestsPerSecond, h.TokensPerMinute}, nil
	},
}

func openAICompatible(name string, h config.HTTPProvider, st *secrets.Store, tr *egress.Transport) (llm.Provider, rate, error) {
	return openai.New(openai.Config{Name: name, BaseURL: h.BaseURL, Model: h.Model, HTTP: keyed(st, tr, h.APIKey, "Authorization", "Bearer ")}),
		rate{h.RequestsPerSecond, h.TokensPerMinute}, nil
}
