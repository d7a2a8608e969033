package telemetry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

func TestLoggerNeverWritesASecret(t *testing.T) {
	var buf bytes.Buffer
	var m Masker
	m.Add("opaque-vault-value-9f3a") // no shape a redactor knows: only the registry can mask it
	log, err := Logger(&buf, "info", "json", redact.New(redact.DefaultOptions()), &m)
	if err != nil {
		t.Fatal(err)
	}
	token := "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	log.Info("calling with token="+token, "header", "Authorization: Bearer "+token, "err", errors.New("refused key "+token), "n", 3)
	log.Warn("upstream said opaque-vault-value-9f3a was wrong", "echo", "x opaque-vault-value-9f3a y")
	log.Debug("below the level")
	out := buf.String()
	if strings.Contains(out, token) || strings.Contains(out, "opaque-vault-value-9f3a") {
		t.Fatalf("secret in log: %s", out)
	}
	if !strings.Contains(out, "[REDACTED:") || !strings.HasPrefix(out, "{") || strings.Contains(out, "below the level") {
		t.Fatalf("log: %s", out)
	}
	if !strings.Contains(out, SecretMarker) {
		t.Fatalf("loaded secret not marked: %s", out)
	}
	if _, err := Logger(io.Discard, "loud", "json", redact.New(redact.DefaultOptions()), nil); err == nil {
		t.Fatal("bad level accepted")
	}
}

func span(t *testing.T) {
	_, s := otel.Tracer("test").Start(context.Background(), "incident")
	s.End()
}

func TestStdoutExporterWritesSpans(t *testing.T) {
	var buf bytes.Buffer
	shutdown, err := Tracing(context.Background(), "stdout", "", &buf, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	span(t)
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"Name":"incident"`) {
		t.Fatalf("stdout exporter wrote %q", buf.String())
	}
}

func TestOTLPExporterPostsToCollector(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	shutdown, err := Tracing(context.Background(), "otlp", srv.URL+"/v1/traces", io.Discard, "test", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	span(t)
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("no OTLP export reached the collector")
	}
}

func TestOTLPRefusesPlainHTTPOffLoopback(t *testing.T) {
	if _, err := Tracing(context.Background(), "otlp", "http://collector.example:4318/v1/traces", io.Discard, "t", nil); err == nil {
		t.Fatal("plain http to a remote collector accepted")
	}
	if err := checkEndpoint("https://collector.example/v1/traces"); err != nil {
		t.Fatal(err)
	}
	if _, err := Tracing(context.Background(), "zipkin", "", io.Discard, "t", nil); err == nil {
		t.Fatal("unknown exporter accepted")
	}
}

// The agent's own operational fields are not redacted as personal data;
// text it quotes is, and a loaded secret is masked everywhere.
func TestOperationalFieldsStayReadable(t *testing.T) {
	var buf bytes.Buffer
	var m Masker
	m.Add("opaque-vault-value-9f3a")
	log, _ := Logger(&buf, "info", "json", redact.New(redact.DefaultOptions()), &m)
	log.Info("listening", "addr", "127.0.0.1:18283", "ref", "env://GITHUB_TOKEN", "path", "/var/lib/sre-agent/audit.jsonl",
		"sample", "client 81.2.69.160 failed for jane@example.com", "addr2", "8.8.4.4", "config", "x opaque-vault-value-9f3a")
	out := buf.String()
	for _, want := range []string{`"addr":"127.0.0.1:18283"`, `"ref":"env://GITHUB_TOKEN"`, `"path":"/var/lib/sre-agent/audit.jsonl"`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s redacted: %s", want, out)
		}
	}
	if strings.Contains(out, "81.2.69.160") || strings.Contains(out, "jane@example.com") || strings.Contains(out, "8.8.4.4") || strings.Contains(out, "opaque-vault-value-9f3a") {
		t.Fatalf("quoted text or a secret not redacted: %s", out)
	}
}

// The text format (a terminal's) masks the same, quotes values so a log
// line cannot move the cursor, and a format it does not know is refused.
func TestTextLogger(t *testing.T) {
	var buf bytes.Buffer
	var m Masker
	m.Add("opaque-vault-value-9f3a")
	log, err := Logger(&buf, "info", "text", redact.New(redact.DefaultOptions()), &m)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("source stopped", "error", "bad line \x1b[2Jopaque-vault-value-9f3a", "n", 3)
	out := buf.String()
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, `msg="source stopped"`) || strings.HasPrefix(out, "{") {
		t.Fatalf("text log: %s", out)
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "opaque-vault-value-9f3a") {
		t.Fatalf("escape or secret in the text log: %q", out)
	}
	if _, err := Logger(io.Discard, "info", "xml", redact.New(redact.DefaultOptions()), nil); err == nil {
		t.Fatal("bad format accepted")
	}
}
