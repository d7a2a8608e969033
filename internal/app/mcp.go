package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/user"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/dashboard"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/mcpserver"
	"github.com/cloud-sre-agent/sre-agent/internal/server"
	"github.com/cloud-sre-agent/sre-agent/internal/telemetry"
)

// ServeMCP serves the MCP tools on stdio (in and out) until the client
// closes it or ctx ends: the store read, every call audited (the log file
// beside the store, or this command's chain in PostgreSQL), the agent's
// own log on stderr (never on stdout, which is the protocol's).
func ServeMCP(ctx context.Context, cfg config.Config, dbFlag string, in io.ReadCloser, out io.WriteCloser, stderr io.Writer) error {
	log, err := telemetry.Logger(stderr, cfg.Log.Level, cfg.Log.Format, redact.New(redact.DefaultOptions()), &telemetry.Masker{})
	if err != nil {
		return err
	}
	return withSession(ctx, cfg, dbFlag, func(s session) error {
		caller := "stdio"
		if u, err := user.Current(); err == nil {
			caller = "stdio:" + u.Username
		}
		srv, err := mcpserver.New(mcpserver.Options{Store: s.store, Trail: s.trail, Audit: s.audit, Redactor: s.redactor,
			Links: cfg.Links, Version: Version, Caller: caller, Log: log})
		if err != nil {
			return err
		}
		log.Info("serving MCP on stdio", "caller", caller)
		if err := srv.Run(ctx, &mcp.IOTransport{Reader: in, Writer: out}); err != nil && ctx.Err() == nil {
			return fmt.Errorf("mcp: %w", err)
		}
		return nil
	})
}

// mcpHandler is /mcp on the listener at addr: the dashboard's
// authentication beyond loopback (the caller's identity goes into the
// audit records), Origin and Host checked on loopback.
func mcpHandler(cfg config.Config, addr string, store IncidentStore, trail dashboard.AuditTrail, aud audit.Appender,
	red *redact.Redactor, auth dashboard.Auth, log *slog.Logger) (http.Handler, error) {
	srv, err := mcpserver.New(mcpserver.Options{Store: store, Trail: trail, Audit: aud, Redactor: red, Links: cfg.Links,
		Version: Version, Log: log})
	if err != nil {
		return nil, err
	}
	return mcpserver.Handler(srv, mcpserver.HTTPOptions{Loopback: server.Loopback(addr), AllowedOrigins: cfg.MCP.AllowedOrigins,
		Guard: func(next http.Handler) http.Handler { return auth.WrapAs(next, log, mcpserver.CallerHeader) }}), nil
}
