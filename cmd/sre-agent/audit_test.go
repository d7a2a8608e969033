package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

// The agent anchors its chain in its own log; a log cut and given a
// matching head passes `audit verify` alone and fails it with the
// anchors; an agent started on a cut log refuses to write. The store and
// the audit log are owner-only.
func TestAuditChainAnchoredOutsideTheLog(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	logPath := filepath.Join(dir, "audit.jsonl")
	_, stderr, err := runAll(t, "run", "--db", db, "--out", filepath.Join(dir, "out"), "--http-addr", "", sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, `"msg":"audit anchor"`) {
		t.Fatalf("no anchor in the agent's log:\n%.2000s", stderr)
	}
	agentLog := filepath.Join(dir, "agent.log")
	os.WriteFile(agentLog, []byte(stderr), 0o600)
	for _, p := range []string{db, logPath} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", p, st.Mode().Perm(), err)
		}
	}
	if out, _, err := runAll(t, "audit", "verify", "--db", db, "--anchor", "@"+agentLog); err != nil || !strings.Contains(out, "holds all") {
		t.Fatalf("an intact log against its anchors: %v %s", err, out)
	}
	// Cut the last three records and write a head that matches the new end.
	b, _ := os.ReadFile(logPath)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	kept := strings.Join(lines[:len(lines)-3], "")
	os.WriteFile(logPath, []byte(kept), 0o600)
	// First with the stale head: verify fails and the agent will not start.
	if _, _, err := runAll(t, "audit", "verify", "--db", db); err == nil {
		t.Fatal("a cut log with its stale head verifies")
	}
	if _, _, err := runAll(t, "run", "--db", db, "--out", filepath.Join(dir, "out"), "--http-addr", "", sampleLog); err == nil || !strings.Contains(err.Error(), "refusing to extend") {
		t.Fatalf("the agent started on a cut log: %v", err)
	}
	// Then with the head rewritten to match: only the anchors find it.
	last := strings.TrimSuffix(lines[len(lines)-4], "\n")
	recs, _ := audit.ReadRecords(strings.NewReader(kept))
	h := audit.Head{Seq: recs[len(recs)-1].Seq, Hash: sha(last)}
	writeJSONFile(t, audit.HeadPath(logPath), h)
	if _, _, err := runAll(t, "audit", "verify", "--db", db); err != nil {
		t.Fatalf("the rewritten head should pass on its own: %v", err)
	}
	if _, _, err := runAll(t, "audit", "verify", "--db", db, "--anchor", "@"+agentLog); err == nil {
		t.Fatal("the anchors did not find the cut")
	}
}

func sha(line string) string {
	h := sha256.Sum256([]byte(line))
	return hex.EncodeToString(h[:])
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Command-line processes reading a PostgreSQL store at once each write
// their own chain segment: none fails on another's sequence number, and
// every chain verifies.
func TestConcurrentCommandsAgainstPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	t.Setenv("SRE_TEST_PG_DSN", dsn)
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgPath, []byte("store: {type: postgres, dsn: env://SRE_TEST_PG_DSN}\nhttp: {addr: \"\"}\n"), 0o600)
	errs := make(chan error, 6)
	for range 6 {
		go func() {
			_, _, err := runAll(t, "--config", cfgPath, "incidents", "list")
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatalf("a concurrent incidents list failed: %v", err)
		}
	}
	if out, _, err := runAll(t, "--config", cfgPath, "audit", "verify"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// In production the agent refuses to start on an env:// reference for
// any credential, naming the setting: a model key as a GitHub token.
func TestProductionRefusesEnvForEveryCredential(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(`
mode: production
provider: {name: openai, allow_third_party: true, openai: {api_key: env://SRE_TEST_KEY, model: m}}
http: {addr: ""}
`), 0o600)
	_, _, err := runAll(t, "--config", cfg, "run", "--db", filepath.Join(dir, "s.db"), sampleLog)
	if err == nil || !strings.Contains(err.Error(), "provider.openai.api_key") || !strings.Contains(err.Error(), "env://") {
		t.Fatalf("err = %v", err)
	}
}

// --anchor values: each bad one is a clear error, a file without anchors
// too.
func TestParseAnchors(t *testing.T) {
	h := strings.Repeat("ab", 32)
	dir := t.TempDir()
	logf := filepath.Join(dir, "agent.log")
	os.WriteFile(logf, []byte(`{"msg":"started"}`+"\n"+`{"msg":"audit anchor","seq":7,"hash":"`+h+`"}`+"\nnot json\n"), 0o600)
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, []byte("{}\n"), 0o600)
	got, err := app.ParseAnchors([]string{"3:" + h, "@" + logf})
	if err != nil || len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 7 || got[1].Hash != h {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"3", "x:" + h, "0:" + h, "3:abc", "@" + empty, "@" + filepath.Join(dir, "missing")} {
		if _, err := app.ParseAnchors([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
