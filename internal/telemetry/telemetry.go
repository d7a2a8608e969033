// Package telemetry sets up the agent's own observability: structured JSON
// logs that never carry a secret, and OpenTelemetry tracing with a none,
// stdout or OTLP/HTTP exporter.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/term"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// Masker holds the secret values loaded so far; the logger replaces each
// wherever it appears. It is safe for concurrent use.
type Masker struct {
	mu     sync.RWMutex
	values []string
}

// SecretMarker replaces a loaded secret in logs.
const SecretMarker = "[REDACTED:loaded-secret]"

// Add registers a value (values under 4 bytes would mask ordinary text and
// are not secrets anyway).
func (m *Masker) Add(v string) {
	if len(v) < 4 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, have := range m.values {
		if have == v {
			return
		}
	}
	m.values = append(m.values, v)
}

// Mask replaces every registered value in s.
func (m *Masker) Mask(s string) string {
	if m == nil {
		return s
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, v := range m.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, SecretMarker)
		}
	}
	return s
}

// Operational are the log keys whose values the agent takes from its own
// configuration and state, never from log text or a model: they are not
// redacted as personal data (127.0.0.1 stays an address, env://NAME a
// reference), though a loaded secret is masked in them as anywhere. Values
// a client or a log chose (a request path, a sample) go under other keys.
var Operational = map[string]bool{
	"addr": true, "listen": true, "ref": true, "path": true, "db": true, "store": true, "audit": true, "config": true,
	"replica": true, "hash": true, "seq": true, "fingerprint": true, "target": true, "stage": true, "state": true,
	"from": true, "to": true, "bound": true, "repository": true, "level": true, "version": true,
}

// Logger returns a JSON logger at level whose every string value (the
// message included) and error first has the loaded secrets masked, then
// passes through the redactor, so a secret that reaches a log call is
// masked before it is written.
func Logger(w io.Writer, level, format string, red *redact.Redactor, masker *Masker) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	if format == "" || format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format != "json" && format != "text" {
		return nil, fmt.Errorf("log format %q: want json, text or auto", format)
	}
	clean := func(s string) string {
		s = masker.Mask(s)
		if red.Find(s) != nil {
			s = red.Redact(s)
		}
		return s
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			s := a.Value.String()
			switch {
			case s == "":
			case Operational[a.Key]:
				// The agent's own settings and state (listen addresses,
				// reference names, its files) are not personal data; a
				// loaded secret is still masked.
				a.Value = slog.StringValue(masker.Mask(s))
			default:
				a.Value = slog.StringValue(clean(s))
			}
		case slog.KindAny:
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(clean(err.Error()))
			}
		}
		return a
	}}
	// Text on a terminal (slog's text handler quotes values holding spaces
	// or control characters, so a log line cannot move the cursor); JSON
	// for a collector.
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), nil
}

// Tracing installs the global tracer provider for exporter ("none",
// "stdout" or "otlp") and returns its shutdown, which flushes spans.
// stdout writes to w. The OTLP endpoint must be https, or http on a
// loopback address.
func Tracing(ctx context.Context, exporter, endpoint string, w io.Writer, version string, client *http.Client) (func(context.Context) error, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch exporter {
	case "", "none":
		otel.SetTracerProvider(noop.NewTracerProvider())
		return func(context.Context) error { return nil }, nil
	case "stdout":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	case "otlp":
		if err := checkEndpoint(endpoint); err != nil {
			return nil, err
		}
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
		if client != nil {
			opts = append(opts, otlptracehttp.WithHTTPClient(client))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("tracing: unknown exporter %q", exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("sre-agent"), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// checkEndpoint allows https anywhere and plain http only to loopback.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("tracing endpoint: %w", err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if egress.IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("tracing endpoint %s: plain http is allowed only to loopback; use https", u.Host)
	}
	return errors.New("tracing endpoint must be an http(s) URL")
}
