package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// executeErr runs a command and returns its output and error.
func executeErr(stdin string, args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

const sampleLog = "../../examples/logs/checkout.log"

// The user's path on the embedded defaults: run over a sample log, list
// the incidents, verify the audit log, and see it fail after an edit.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db, out, aud := filepath.Join(dir, "state", "incidents.db"), filepath.Join(dir, "out"), filepath.Join(dir, "state", "audit.jsonl")
	summary := execute(t, "", "run", "--db", db, "--out", out, "--http-addr", "", sampleLog)
	m := regexp.MustCompile(`(\d+) delivered`).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("no deliveries in summary:\n%s", summary)
	}
	delivered, _ := strconv.Atoi(m[1])
	reports, _ := filepath.Glob(filepath.Join(out, "*.md"))
	if len(reports) != delivered || delivered < 4 {
		t.Fatalf("%d reports for %d delivered incidents", len(reports), delivered)
	}
	if !strings.Contains(summary, aud) {
		t.Fatalf("summary does not say where the audit log is:\n%s", summary)
	}

	list := execute(t, "", "incidents", "list", "--db", db)
	if strings.Count(list, "delivered") != delivered || !strings.Contains(list, "not-actionable") {
		t.Fatalf("incidents list:\n%s", list)
	}
	// The panic's report points at the application frame, not the runtime.
	var panicReport string
	for _, r := range reports {
		b, _ := os.ReadFile(r)
		if strings.Contains(string(b), "nil pointer") {
			panicReport = string(b)
		}
	}
	if !strings.Contains(panicReport, "/src/internal/cart/cart.go:57") || !strings.Contains(panicReport, "code-defect") {
		t.Fatalf("panic report lacks its suspected file:\n%s", panicReport)
	}
	id := strings.TrimSuffix(filepath.Base(reports[0]), ".md")[:8]
	if show := execute(t, "", "incidents", "show", "--db", db, id); !strings.Contains(show, "root cause:") || !strings.Contains(show, "delivered:") {
		t.Fatalf("incidents show:\n%s", show)
	}

	// Nothing secret anywhere the agent wrote.
	for _, p := range append(reports, db, aud) {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("ghp_1234567890abcdef")) || bytes.Contains(b, []byte("jane.doe@example.com")) {
			t.Fatalf("%s carries a secret or PII from the log", p)
		}
	}

	if got := execute(t, "", "audit", "verify", aud); !strings.HasPrefix(got, "ok:") {
		t.Fatalf("audit verify: %s", got)
	}
	// A second run over the same log: one pipeline run per fingerprint,
	// so no new model calls and no new deliveries.
	before, _ := os.ReadFile(aud)
	execute(t, "", "run", "--db", db, "--out", out, "--http-addr", "", sampleLog)
	after, _ := os.ReadFile(aud)
	if n := bytes.Count(after[len(before):], []byte(`"kind":"model_call"`)); n != 0 {
		t.Fatalf("second run made %d model calls", n)
	}

	// Tamper: edit one record and verify must fail, naming a line.
	lines := strings.Split(strings.TrimRight(string(after), "\n"), "\n")
	lines[3] = strings.Replace(lines[3], `"outcome":"ok"`, `"outcome":"OK"`, 1)
	os.WriteFile(aud, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	_, err := executeErr("", "audit", "verify", aud)
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("verify after an edit: %v", err)
	}
}

func TestRunReadsStdinWhenNoFileIsNamed(t *testing.T) {
	dir := t.TempDir()
	log, _ := os.ReadFile(sampleLog)
	summary := execute(t, string(log), "run", "--db", filepath.Join(dir, "s.db"), "--out", filepath.Join(dir, "out"), "--http-addr", "")
	if !strings.Contains(summary, "delivered") {
		t.Fatalf("stdin run:\n%s", summary)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("provider:\n  name: gpt-nine\n"), 0o600)
	if _, err := executeErr("", "--config", cfg, "run", sampleLog); err == nil || !strings.Contains(err.Error(), "gpt-nine") {
		t.Fatalf("err = %v", err)
	}
}

// TestMain lets a test run this test binary as the sre-agent command
// itself, to send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("SRE_AGENT_BE_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	if os.Getenv("SRE_TEST_BURN") == "1" {
		burn() // a busy core for the crash tests (crash_test.go)
	}
	os.Exit(m.Run())
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath, []byte("2026-01-01T00:00:00Z ERROR panic: dial tcp 10.0.0.1:5432: connect: connection refused\n"), 0o644)
	aud := filepath.Join(dir, "audit.jsonl")
	cmd := exec.Command(os.Args[0], "run", "--follow", "--db", filepath.Join(dir, "s.db"), "--out", filepath.Join(dir, "out"),
		"--audit", aud, "--http-addr", "127.0.0.1:0", logPath)
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the incident is delivered, then signal.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "out", "*.md")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no report; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("did not stop after SIGTERM")
	}
	b, _ := os.ReadFile(aud)
	if !bytes.Contains(b, []byte(`"kind":"agent_stop","replica"`)) || !bytes.Contains(b, []byte(`"outcome":"signalled"`)) {
		t.Fatalf("no signalled stop in the audit log:\n%s", b)
	}
	// Its own logs are JSON lines.
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(l, "{") {
			t.Fatalf("log line is not JSON: %q", l)
		}
	}
}

func TestDoctorListsEachProblem(t *testing.T) {
	out, err := executeErr("", "--config", "../../examples/insecure.yaml", "doctor", "--db", filepath.Join(t.TempDir(), "s.db"))
	if err == nil {
		t.Fatalf("doctor passed an insecure config:\n%s", out)
	}
	for _, want := range []string{"fail  secrets are references", "fail  endpoints use TLS", "fail  GitHub token", "warn  egress allowlist"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	js, _ := executeErr("", "--config", "../../examples/insecure.yaml", "doctor", "--json", "--db", filepath.Join(t.TempDir(), "s.db"))
	if !strings.Contains(js, `"status": "fail"`) {
		t.Fatalf("json: %s", js)
	}
}
