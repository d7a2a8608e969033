package app

import (
	"context"
	"fmt"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"log/slog"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/dashboard"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/server"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
)

// fileTrail is the audit log file as the dashboard reads it.
type fileTrail struct{ path string }

func (f fileTrail) Records(context.Context) ([]audit.Record, error) { return audit.ReadFile(f.path) }

func (f fileTrail) RecordsOf(_ context.Context, fp domain.Fingerprint) ([]audit.Record, error) {
	return audit.ReadFileOf(f.path, string(fp))
}

func (f fileTrail) Verify(context.Context) (string, error) {
	if _, err := os.Stat(f.path); os.IsNotExist(err) {
		return "no records yet", nil
	}
	s, err := audit.VerifyFile(f.path)
	return fmt.Sprintf("%d records, last seq %d, head matches (%s)", s.Records, s.LastSeq, f.path), err
}

// chainTrail is every replica's chain in a store that keeps them.
type chainTrail struct{ s chainStore }

func (p chainTrail) Records(ctx context.Context) ([]audit.Record, error) {
	return p.s.AuditRecords(ctx)
}

func (p chainTrail) RecordsOf(ctx context.Context, fp domain.Fingerprint) ([]audit.Record, error) {
	return p.s.AuditRecordsOf(ctx, string(fp))
}

func (p chainTrail) Verify(ctx context.Context) (string, error) {
	res, err := p.s.VerifyAudit(ctx)
	if err != nil {
		return "", err
	}
	n, err := postgres.Verdict(res)
	return fmt.Sprintf("%d replicas' chains, %d records, every head matches", len(res), n), err
}

// buildAuth is who may read the UI and, beyond loopback, the metrics:
// the token or the verified IAP identity the config names.
func buildAuth(ctx context.Context, cfg config.Config, addr string, st *secrets.Store, tr *egress.Transport) (dashboard.Auth, error) {
	auth := dashboard.Auth{Required: !server.Loopback(addr)}
	if ref := cfg.Dashboard.Token; ref != "" {
		auth.Token = func(ctx context.Context) (string, error) { return st.Get(ctx, ref) }
	}
	if aud := cfg.Dashboard.IAPAudience; aud != "" {
		// IAP's signing keys come from www.gstatic.com through the egress
		// transport (allow the host in egress.allow_hosts).
		v, err := idtoken.NewValidator(ctx, option.WithHTTPClient(tr.Client()))
		if err != nil {
			return auth, fmt.Errorf("dashboard: IAP validator: %w", err)
		}
		auth.IAP, auth.IAPAudience = v, aud
	}
	return auth, nil
}

// metricsGuard protects /metrics on a listener beyond loopback with the
// dashboard's authentication; nil when none is configured (the server
// then refuses).
func metricsGuard(ctx context.Context, cfg config.Config, addr string, st *secrets.Store, tr *egress.Transport, log *slog.Logger) (server.Guard, error) {
	if cfg.Dashboard.Token == "" && cfg.Dashboard.IAPAudience == "" {
		return nil, nil
	}
	auth, err := buildAuth(ctx, cfg, addr, st, tr)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler { return auth.Wrap(next, log) }, nil
}

// buildUI is what the run command serves beside health and metrics: the
// dashboard at / and the MCP endpoint at /mcp, each unless turned off; nil
// when both are.
func buildUI(ctx context.Context, cfg config.Config, store IncidentStore, auditPath string, reg prometheus.Gatherer,
	st *secrets.Store, tr *egress.Transport, aud audit.Appender, red *redact.Redactor, log *slog.Logger) (http.Handler, error) {
	addr := cfg.HTTP.Addr
	if cfg.Dashboard.Addr != "" {
		addr = cfg.Dashboard.Addr
	}
	if addr == "" || (cfg.Dashboard.Disabled && cfg.MCP.Disabled) {
		return nil, nil
	}
	var trail dashboard.AuditTrail = fileTrail{auditPath}
	if chains, ok := store.(chainStore); ok {
		trail = chainTrail{chains}
	}
	auth, err := buildAuth(ctx, cfg, addr, st, tr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if !cfg.MCP.Disabled {
		h, err := mcpHandler(cfg, addr, store, trail, aud, red, auth, log)
		if err != nil {
			return nil, err
		}
		mux.Handle("/mcp", h)
	}
	if !cfg.Dashboard.Disabled {
		h, err := buildDashboard(cfg, store, trail, reg, auth)
		if err != nil {
			return nil, err
		}
		mux.Handle("/", h)
	}
	return mux, nil
}

// buildDashboard is the web UI.
func buildDashboard(cfg config.Config, store IncidentStore, trail dashboard.AuditTrail, reg prometheus.Gatherer, auth dashboard.Auth) (http.Handler, error) {
	pc := cfg.Provider
	o := dashboard.Options{Store: store, Audit: trail, Gatherer: reg, Auth: auth,
		Budget: dashboard.Budget{Tokens: pc.DailyTokens, CostUSD: pc.DailyCostUSD}, Conversations: store.Conversations,
		Silences: silencesOf(cfg, store), Notes: store.Notes, Links: cfg.Links}
	tree, err := NotifyTree(cfg)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		o.Routes = func(in domain.Incident, run *domain.Run) []dashboard.Route {
			var out []dashboard.Route
			for _, e := range tree.Describe(in, run) {
				out = append(out, dashboard.Route{Receiver: e.Receiver, Route: e.Route, Transitions: e.Transitions})
			}
			return out
		}
	}
	return dashboard.New(o)
}
