// Package router puts several model providers behind the pipeline's one
// provider interface: a primary and ordered fallbacks, each with a circuit
// breaker, retries that honour Retry-After, request and token rate limits
// and a timeout; a daily token and cost budget that, once spent, hands
// every request to the offline provider (and says so); a response cache so
// a recurring incident costs no new call; and a last data gate that refuses
// to send a prompt still carrying a secret.
package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
)

// Entry is one provider in the chain.
type Entry struct {
	Provider llm.Provider
	// ThirdParty: the provider sends data off the machine to someone else.
	ThirdParty bool
	// RequestsPerSecond and TokensPerMinute limit calls (0: no limit).
	RequestsPerSecond float64
	TokensPerMinute   int
	// OwnModel: ignore the stage's model name (it names the primary's
	// models) and use the provider's configured model.
	OwnModel bool
}

// Config tunes the router.
type Config struct {
	// AllowThirdParty must be set for any third-party provider to be used.
	AllowThirdParty bool
	Timeout         time.Duration
	MaxRetries      int
	// MaxRetryWait is the longest Retry-After honoured before moving on
	// to the next provider.
	MaxRetryWait time.Duration
	// BreakerFailures consecutive failures open a provider's breaker for
	// BreakerCooldown.
	BreakerFailures int
	BreakerCooldown time.Duration
	DailyTokens     int64
	DailyCostUSD    float64
	Prices          map[string]config.Price // by model
	CacheSize       int
}

// PromptVersion changes when the prompts change, so cached answers to old
// prompts are not reused.
const PromptVersion = "p1"

// Router implements llm.Provider.
type Router struct {
	cfg      Config
	chain    []*member
	offline  llm.Provider
	red      *redact.Redactor
	audit    audit.Appender
	log      *slog.Logger
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	mu       sync.Mutex
	day      string
	tokens   int64
	costUSD  float64
	cache    map[string]llm.Response
	cacheLRU []string
}

type member struct {
	Entry
	req      *rate.Limiter
	tok      *rate.Limiter
	mu       sync.Mutex
	failures int
	openTill time.Time
}

// ErrThirdParty refuses a third-party provider the config did not allow.
var ErrThirdParty = errors.New("sends incident data to a third party; set provider.allow_third_party to use it")

// New builds a router. It fails closed: a third-party provider without
// AllowThirdParty is an error at start.
func New(cfg Config, chain []Entry, offline llm.Provider, red *redact.Redactor, aud audit.Appender, log *slog.Logger) (*Router, error) {
	if len(chain) == 0 {
		return nil, errors.New("router: no providers")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 30 * time.Second
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 3
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 30 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1000
	}
	r := &Router{cfg: cfg, offline: offline, red: red, audit: aud, log: log, now: time.Now, sleep: backoff.Sleep, cache: map[string]llm.Response{}}
	for _, e := range chain {
		if e.ThirdParty && !cfg.AllowThirdParty {
			return nil, fmt.Errorf("provider %s %w", e.Provider.Name(), ErrThirdParty)
		}
		m := &member{Entry: e}
		if e.RequestsPerSecond > 0 {
			m.req = rate.NewLimiter(rate.Limit(e.RequestsPerSecond), 1)
		}
		if e.TokensPerMinute > 0 {
			m.tok = rate.NewLimiter(rate.Limit(float64(e.TokensPerMinute)/60), e.TokensPerMinute)
		}
		r.chain = append(r.chain, m)
	}
	return r, nil
}

// Name implements llm.Provider.
func (r *Router) Name() string { return "router" }

// Complete answers from the cache, the chain, or the offline provider.
func (r *Router) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	// Last data gate: the prompt was built from redacted data; anything
	// the redactor still finds is not sent anywhere.
	if kinds := r.red.Find(req.System + "\n" + req.Prompt); len(kinds) > 0 {
		r.record(ctx, audit.KindPromptBlocked, req, "blocked", map[string]any{"kinds": kinds})
		r.log.Warn("prompt still carries sensitive data: not sent; answering offline", "stage", string(req.Stage), "kinds", kinds)
		return r.answerOffline(ctx, req, "prompt blocked by the data gate")
	}
	key := cacheKey(req)
	r.mu.Lock()
	// A retry after a refused answer must reach the model: the cached
	// answer is the one that was refused. Its answer replaces it.
	if resp, ok := r.cache[key]; ok && req.Retry == "" {
		r.mu.Unlock()
		resp.InputTokens, resp.OutputTokens, resp.CostUSD, resp.Cached = 0, 0, 0, true
		return resp, nil
	}
	spent := r.budgetSpentLocked()
	r.mu.Unlock()
	if spent != "" {
		r.record(ctx, audit.KindBudgetExhausted, req, "offline", map[string]any{"reason": spent})
		r.log.Warn("model budget spent: answering offline", "reason", spent)
		return r.answerOffline(ctx, req, spent)
	}
	var errs []error
	for _, m := range r.chain {
		if !m.allow(r.now()) {
			errs = append(errs, fmt.Errorf("%s: circuit open", m.Provider.Name()))
			continue
		}
		resp, err := r.try(ctx, m, req)
		if err == nil {
			m.succeeded()
			resp.Provider = m.Provider.Name()
			resp.CostUSD = r.cost(resp)
			r.mu.Lock()
			r.tokens += int64(resp.InputTokens + resp.OutputTokens)
			r.costUSD += resp.CostUSD
			r.putLocked(key, resp)
			r.mu.Unlock()
			return resp, nil
		}
		if ctx.Err() != nil {
			return llm.Response{}, err
		}
		m.failed(r.now(), r.cfg.BreakerFailures, r.cfg.BreakerCooldown)
		errs = append(errs, err)
		r.log.Warn("provider failed; trying the next", "provider", m.Provider.Name(), "error", err.Error())
	}
	return llm.Response{}, fmt.Errorf("every provider failed: %w", errors.Join(errs...))
}

// try calls one provider with its rate limits, timeout and retries.
func (r *Router) try(ctx context.Context, m *member, req llm.Request) (llm.Response, error) {
	if m.OwnModel {
		req.Model = ""
	}
	var last error
	for attempt := 0; attempt <= r.cfg.MaxRetries; attempt++ {
		if m.req != nil {
			if err := m.req.Wait(ctx); err != nil {
				return llm.Response{}, err
			}
		}
		if m.tok != nil {
			n := min(llm.EstimateTokens(req.System)+llm.EstimateTokens(req.Prompt), m.tok.Burst())
			if err := m.tok.WaitN(ctx, n); err != nil {
				return llm.Response{}, err
			}
		}
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if r.cfg.Timeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, r.cfg.Timeout)
		}
		start := r.now()
		resp, err := m.Provider.Complete(cctx, req)
		cancel()
		if err == nil {
			return resp, nil
		}
		// A failed call is an outside action too: audited here; the one that
		// answers is audited by the pipeline.
		status := 0
		if se, ok := llm.AsStatus(err); ok {
			status = se.Status
		}
		r.record(ctx, audit.KindModelCall, req, "error", map[string]any{"provider": m.Provider.Name(), "model": req.Model,
			"attempt": attempt + 1, "http_status": status, "latency_ms": r.now().Sub(start).Milliseconds(), "error": r.red.Redact(err.Error()),
			"input_tokens": 0, "output_tokens": 0, "cost_usd": 0})
		last = err
		se, ok := llm.AsStatus(err)
		timedOut := errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		if !(ok && se.Retryable()) && !timedOut {
			return llm.Response{}, err
		}
		if attempt == r.cfg.MaxRetries {
			break
		}
		wait := time.Duration(500<<attempt) * time.Millisecond
		if ok && se.RetryAfter > 0 {
			if se.RetryAfter > r.cfg.MaxRetryWait {
				return llm.Response{}, fmt.Errorf("%w (Retry-After %v is longer than %v)", err, se.RetryAfter, r.cfg.MaxRetryWait)
			}
			wait = se.RetryAfter
		}
		if err := r.sleep(ctx, wait); err != nil {
			return llm.Response{}, err
		}
	}
	return llm.Response{}, last
}

func (r *Router) answerOffline(ctx context.Context, req llm.Request, why string) (llm.Response, error) {
	resp, err := r.offline.Complete(ctx, req)
	resp.Provider, resp.Note = r.offline.Name(), why
	return resp, err
}

// budgetSpentLocked says why the day's budget is spent, or "".
func (r *Router) budgetSpentLocked() string {
	today := r.now().UTC().Format("2006-01-02")
	if today != r.day {
		r.day, r.tokens, r.costUSD = today, 0, 0
	}
	switch {
	case r.cfg.DailyTokens > 0 && r.tokens >= r.cfg.DailyTokens:
		return fmt.Sprintf("daily token budget of %d spent", r.cfg.DailyTokens)
	case r.cfg.DailyCostUSD > 0 && r.costUSD >= r.cfg.DailyCostUSD:
		return fmt.Sprintf("daily cost budget of $%.2f spent", r.cfg.DailyCostUSD)
	}
	return ""
}

func (r *Router) cost(resp llm.Response) float64 {
	p, ok := r.cfg.Prices[resp.Model]
	if !ok {
		return 0
	}
	return (float64(resp.InputTokens)*p.InputPerMTok + float64(resp.OutputTokens)*p.OutputPerMTok) / 1e6
}

func (r *Router) putLocked(key string, resp llm.Response) {
	if _, ok := r.cache[key]; !ok {
		r.cacheLRU = append(r.cacheLRU, key)
	}
	r.cache[key] = resp
	for len(r.cacheLRU) > r.cfg.CacheSize {
		delete(r.cache, r.cacheLRU[0])
		r.cacheLRU = r.cacheLRU[1:]
	}
}

func (r *Router) record(ctx context.Context, kind audit.Kind, req llm.Request, outcome string, fields map[string]any) {
	if r.audit == nil {
		return
	}
	fields["stage"] = string(req.Stage)
	fp := ""
	if req.Evidence != nil {
		fp = string(req.Evidence.Fingerprint)
	}
	if _, err := r.audit.Append(ctx, audit.Record{Kind: kind, Fingerprint: fp, Outcome: outcome, Fields: fields}); err != nil {
		r.log.Error("audit", "error", err.Error())
	}
}

// cacheKey identifies an answer: the stage, the incident and its template
// set, the model, the prompt version and the earlier stages' answers.
func cacheKey(req llm.Request) string {
	h := sha256.New()
	fmt := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	fmt(string(req.Stage))
	fmt(req.Model)
	fmt(PromptVersion)
	if ev := req.Evidence; ev != nil {
		fmt(string(ev.Fingerprint))
		ids := make([]string, len(ev.Templates))
		for i, t := range ev.Templates {
			ids[i] = string(t.ID)
		}
		sort.Strings(ids)
		for _, id := range ids {
			fmt(id)
		}
	} else {
		fmt(req.Prompt)
	}
	b, _ := json.Marshal(req.Triage)
	fmt(string(b))
	b, _ = json.Marshal(req.Analysis)
	fmt(string(b))
	return hex.EncodeToString(h.Sum(nil))
}

func (m *member) allow(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !now.Before(m.openTill) // closed, or half-open after the cooldown
}

func (m *member) succeeded() {
	m.mu.Lock()
	m.failures, m.openTill = 0, time.Time{}
	m.mu.Unlock()
}

func (m *member) failed(now time.Time, threshold int, cooldown time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures++
	if m.failures >= threshold {
		m.openTill = now.Add(cooldown)
	}
}
