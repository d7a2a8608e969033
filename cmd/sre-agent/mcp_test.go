package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

// mcpCall calls a tool and returns its structured output as JSON text.
func mcpCall(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (map[string]any, string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s: %+v", name, res.Content)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out, string(b)
}

// `sre-agent mcp` is the real binary on stdio, driven by the SDK's own
// client: the tools listed with schemas, the incidents of a run with a
// hostile line and a secret in its log, the hostile line only inside the
// data field and escaped, no secret, a report resource, every call an
// audit record naming the local caller, the chain intact.
func TestMCPOnStdioThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	sample, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath, append(sample, []byte(injected+"\n"+
		"2026-11-20T09:01:30.000Z ERROR checkout failed for item 7: upstream said token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 is invalid\n")...), 0o644)
	db := filepath.Join(dir, "s.db")
	execute(t, "", "run", "--db", db, "--out", filepath.Join(dir, "out"), "--http-addr", "", logPath)

	exe, _ := os.Executable()
	cmd := exec.Command(exe, "mcp", "--db", db)
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1", "HOME="+dir, "XDG_STATE_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 7 {
		t.Fatalf("tools: %v %v", err, tools)
	}
	for _, tool := range tools.Tools {
		if tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("%s has no schema", tool.Name)
		}
	}
	list, _ := mcpCall(t, cs, "list_incidents", map[string]any{"text": "__pwned"})
	incs, _ := list["incidents"].([]any)
	if len(incs) != 1 {
		t.Fatalf("the hostile incident: %v", list)
	}
	id := incs[0].(map[string]any)["id"].(string)
	got, raw := mcpCall(t, cs, "get_incident", map[string]any{"id": id[:8]})
	data := got["data"].(map[string]any)
	text := data["text"].(string)
	marker := data["marker"].(string)
	if !strings.HasPrefix(text, "<<<"+marker+">>>\n") || !strings.HasSuffix(text, "\n<<<END "+marker+">>>") {
		t.Errorf("the data field is not marked: %.300s", text)
	}
	if !strings.Contains(text, `\u003cscript\u003edocument.title=`) || strings.Contains(text, "<script>") {
		t.Errorf("the hostile line is not in the data field, escaped: %.2000s", text)
	}
	delete(got, "data")
	outside, _ := json.Marshal(got)
	if strings.Contains(string(outside), "script") || strings.Contains(string(outside), "checkout failed") {
		t.Errorf("log text outside the data field: %s", outside)
	}
	if strings.Contains(raw, "ghp_abcdefghijklmnopqrstuvwxyz0123456789") {
		t.Error("a secret came back")
	}
	res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "incident://" + id})
	if err != nil || !strings.Contains(res.Contents[0].Text, "# Incident "+id[:8]) {
		t.Errorf("report resource: %v", err)
	}
	cs.Close()
	recs, err := audit.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, r := range recs {
		if r.Kind == audit.KindMCPCall {
			calls = append(calls, fmt.Sprintf("%v %v %v", r.Fields["name"], r.Outcome, strings.HasPrefix(fmt.Sprint(r.Fields["caller"]), "stdio:")))
		}
	}
	want := []string{"list_incidents ok true", "get_incident ok true", "incident://" + id + " ok true"}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Errorf("audit records %v, want %v", calls, want)
	}
	if out := execute(t, "", "audit", "verify", "--db", db); !strings.Contains(out, "intact") {
		t.Errorf("audit verify: %s", out)
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// The running agent serves /mcp beside the dashboard: beyond loopback
// only with the dashboard's token (401 without, the tools with), the
// caller audited as the token's holder; on loopback a foreign Origin is
// refused.
func TestMCPOverHTTPOnTheAgent(t *testing.T) {
	dir := t.TempDir()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	t.Setenv("SRE_TEST_MCP_TOKEN", "mcp-t0ken-for-tests")
	a := startAgent(t, fmt.Sprintf("http: {addr: \"0.0.0.0:%s\"}\ndashboard: {token: env://SRE_TEST_MCP_TOKEN}\ndelivery: {type: local, local: {dir: %s}}\n",
		port, filepath.Join(dir, "out")), sampleLog)
	defer a.stop()
	endpoint := "http://127.0.0.1:" + port + "/mcp"
	post := func(token, origin string) int {
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	agenttest.WaitFor(t, "the endpoint", 20*time.Second, func() bool { return post("", "") != 0 })
	if got := post("", ""); got != http.StatusUnauthorized {
		t.Errorf("no token: %d", got)
	}
	if got := post("wrong", ""); got != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", got)
	}
	if got := post("mcp-t0ken-for-tests", ""); got != http.StatusOK {
		t.Errorf("the token: %d", got)
	}
	if got := post("mcp-t0ken-for-tests", "https://evil.example"); got != http.StatusForbidden {
		t.Errorf("a foreign origin with the token: %d", got)
	}
	client := &http.Client{Transport: bearer{"mcp-t0ken-for-tests"}}
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: client, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	agenttest.WaitFor(t, "incidents", 30*time.Second, func() bool {
		out, _ := mcpCall(t, cs, "list_incidents", nil)
		n, _ := out["matched"].(float64)
		return n >= 5
	})
	v, _ := mcpCall(t, cs, "verify_audit", nil)
	if v["intact"] != true {
		t.Errorf("verify_audit: %v", v)
	}
	cs.Close()
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	recs, _ := audit.ReadFile(filepath.Join(filepath.Dir(a.DB), "audit.jsonl"))
	n := 0
	for _, r := range recs {
		if r.Kind == audit.KindMCPCall {
			n++
			if r.Fields["caller"] != "bearer" {
				t.Errorf("caller %v", r.Fields["caller"])
			}
		}
	}
	if n < 2 {
		t.Errorf("%d mcp_call records", n)
	}

	// On loopback: no token needed, a foreign Origin and a rebound Host
	// refused.
	addr := freeAddr(t)
	b := startAgent(t, fmt.Sprintf("http: {addr: %q}\ndelivery: {type: local, local: {dir: %s}}\n", addr, filepath.Join(dir, "out2")), sampleLog)
	defer b.stop()
	endpoint = "http://" + addr + "/mcp"
	agenttest.WaitFor(t, "the loopback endpoint", 20*time.Second, func() bool { return post("", "") == http.StatusOK })
	if got := post("", "https://evil.example"); got != http.StatusForbidden {
		t.Errorf("loopback, foreign origin: %d", got)
	}
	if got := post("", "http://localhost:6274"); got != http.StatusOK {
		t.Errorf("loopback, a loopback origin (the MCP inspector): %d", got)
	}
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{}`))
	req.Host = "rebind.evil.example"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode < 400 {
		t.Errorf("a rebound Host: %v %v", err, resp)
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
