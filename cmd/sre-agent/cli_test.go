package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// exitOf runs the command as its own process and returns its exit code,
// stdout and stderr.
func exitOf(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// Exit codes: 0 done, 1 an error, 2 a command line it does not take.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--version"}, 0, "sre-agent "},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"incidents", "show"}, 2, "accepts 1 arg(s)"},
		{[]string{"analyze", "--bogus", "x"}, 2, "unknown flag: --bogus"},
		{[]string{"--log-level", "loud", "incidents", "list", "--db", filepath.Join(dir, "s.db")}, 2, "--log-level"},
		{[]string{"incidents", "list", "--db", filepath.Join(dir, "none", "s.db")}, 1, "no store at"},
	} {
		code, out, errOut := exitOf(t, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.says) {
			t.Errorf("%v: exit %d, want %d saying %q\n%s%s", c.args, code, c.code, c.says, out, errOut)
		}
	}
}

// Ctrl-C ends a command with 130 and says so, not "context canceled".
func TestInterruptExits130(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath, []byte("2026-01-01T00:00:00Z INFO started\n"), 0o644)
	cmd := exec.Command(os.Args[0], "run", "--follow", "--db", filepath.Join(dir, "s.db"), "--out", filepath.Join(dir, "out"),
		"--http-addr", "127.0.0.1:0", logPath)
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "agent started") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "sre-agent: interrupted") || strings.Contains(stderr.String(), "context canceled") {
		t.Fatalf("after SIGINT: %v\n%s", err, stderr.String())
	}
}

// A binary built with -X main.version says that version; the build
// reference's recipe (CONTRIBUTING.md, .goreleaser.yaml, the Dockerfile)
// sets the same variable.
func TestVersionFromTheBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "sre-agent")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || !strings.HasPrefix(string(out), "sre-agent v9.8.7-test, commit ") {
			t.Errorf("%v: %q %v", args, out, err)
		}
	}
	for _, f := range []string{"../../.goreleaser.yaml", "../../Dockerfile", "../../CONTRIBUTING.md"} {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), "-X main.version=") {
			t.Errorf("%s does not set main.version: %v", f, err)
		}
	}
}

// The commands agree: --json everywhere, one incident object in list and
// show, `<*>` printed as itself, filters on list, dates checked, ids
// completed, binary and empty inputs refused with a clear error.
func TestOneConsistentCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	execute(t, "", "run", "--db", db, "--out", filepath.Join(dir, "out"), "--http-addr", "", sampleLog)

	var list []map[string]any
	if err := json.Unmarshal([]byte(execute(t, "", "incidents", "list", "--db", db, "--json")), &list); err != nil || len(list) < 5 {
		t.Fatalf("list: %d %v", len(list), err)
	}
	id := list[0]["fingerprint"].(string)
	var show map[string]any
	if err := json.Unmarshal([]byte(execute(t, "", "incidents", "show", id, "--db", db, "--json")), &show); err != nil {
		t.Fatal(err)
	}
	for k := range list[0] {
		if _, ok := show[k]; !ok {
			t.Errorf("show lacks the list's field %q: one incident shape", k)
		}
	}
	if _, ok := list[0]["run"]; !ok {
		t.Error("list items carry no run")
	}

	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--state", "delivered"}, -1}, {[]string{"--state", "nosuch"}, 0}, {[]string{"--since", "1h"}, 0},
		{[]string{"--since", "2026-11-01"}, len(list)}, {[]string{"--limit", "2"}, 2}, {[]string{"--service", "check*"}, len(list)},
		{[]string{"--service", "payments"}, 0}, {[]string{"--search", "NO SPACE LEFT"}, 1}, {[]string{"--search", "never logged anywhere"}, 0},
		{[]string{"--search", "checkout"}, len(list)},
	} {
		var got []map[string]any
		json.Unmarshal([]byte(execute(t, "", append([]string{"incidents", "list", "--db", db, "--json"}, c.args...)...)), &got)
		if c.want >= 0 && len(got) != c.want {
			t.Errorf("list %v: %d incidents, want %d", c.args, len(got), c.want)
		}
		for _, in := range got {
			if c.args[0] == "--state" && in["state"] != c.args[1] {
				t.Errorf("list %v: an incident in state %v", c.args, in["state"])
			}
		}
	}
	if code, _, errOut := exitOf(t, "incidents", "list", "--db", db, "--since", "yesterday-ish"); code != 2 || !strings.Contains(errOut, "--since") {
		t.Errorf("bad --since: %d %s", code, errOut)
	}

	tmpl := execute(t, "", "templates", "--json", "--summary", sampleLog)
	if strings.Contains(tmpl, `\u003c`) || !strings.Contains(tmpl, "<*>") {
		t.Errorf("templates --json escapes <*>:\n%.300s", tmpl)
	}
	var rows []struct {
		Count int `json:"count"`
	}
	json.Unmarshal([]byte(tmpl), &rows)
	for i := 1; i < len(rows); i++ {
		if rows[i].Count > rows[i-1].Count {
			t.Fatalf("--summary not sorted by count: %v", rows)
		}
	}

	var ver map[string]any
	if err := json.Unmarshal([]byte(execute(t, "", "version", "--json")), &ver); err != nil || ver["version"] == nil || ver["go"] == nil {
		t.Errorf("version --json: %v %v", ver, err)
	}
	var verify []map[string]any
	if err := json.Unmarshal([]byte(execute(t, "", "audit", "verify", "--db", db, "--json")), &verify); err != nil || len(verify) != 1 || verify[0]["ok"] != true {
		t.Errorf("audit verify --json: %v %v", verify, err)
	}
	if code, _, errOut := exitOf(t, "usage", "--db", db, "--day", "2026-13-45"); code != 2 || !strings.Contains(errOut, "YYYY-MM-DD") {
		t.Errorf("usage --day 2026-13-45: exit %d %s", code, errOut)
	}

	bin := filepath.Join(dir, "logs.gz")
	os.WriteFile(bin, []byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 'x', 'y'}, 0o600)
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o600)
	for file, says := range map[string]string{bin: "not a text log", empty: "is empty"} {
		if code, out, errOut := exitOf(t, "analyze", "--no-store", file); code != 1 || !strings.Contains(errOut, says) || strings.Contains(out, "no incidents") {
			t.Errorf("analyze %s: exit %d, %s%s", file, code, out, errOut)
		}
	}

	_, comp, _ := exitOf(t, "__complete", "incidents", "show", "--db", db, id[:3])
	if !strings.Contains(comp, id+"\t") || !strings.Contains(comp, ":4") {
		t.Errorf("completion of %s:\n%s", id[:3], comp)
	}
}

// `run` says what this run did, apart from what the store held: incidents
// an earlier `analyze` saved are named as taken further, not as its own.
func TestRunSaysWhatThisRunDid(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	execute(t, "", "analyze", "--db", db, sampleLog)
	out := execute(t, "", "run", "--db", db, "--out", filepath.Join(dir, "out"), "--http-addr", "", sampleLog)
	if !strings.Contains(out, "this run: 0 incidents opened") || !strings.Contains(out, "earlier:   6 incidents from an earlier run or analyze taken further (4 delivered, 2 not-actionable)") {
		t.Fatalf("after analyze:\n%s", out)
	}
	out = execute(t, "", "run", "--db", db, "--out", filepath.Join(dir, "out"), "--http-addr", "", sampleLog)
	if !strings.Contains(out, "this run: 0 incidents opened (none)") || strings.Contains(out, "earlier:") {
		t.Fatalf("a run with nothing new:\n%s", out)
	}
}

// config show prints the effective configuration (file, then the
// environment) and names the file; config validate checks one.
func TestConfigShowAndValidate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	os.MkdirAll(filepath.Join(dir, "sre-agent"), 0o700)
	def := filepath.Join(dir, "sre-agent", "config.yaml")
	os.WriteFile(def, []byte("detect: {quiet: 7m}\ngithub: {token: gcpsm://projects/p/secrets/gh/versions/latest}\n"), 0o600)
	t.Setenv("SRE_AGENT_LOG_LEVEL", "debug")
	out := execute(t, "", "config", "show")
	for _, want := range []string{"# file: " + def, "quiet: 7m0s", "level: debug", "token: gcpsm://projects/p/secrets/gh/versions/latest"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%.1500s", want, out)
		}
	}
	if got := execute(t, "", "config", "validate"); !strings.Contains(got, "ok: "+def) {
		t.Errorf("validate: %s", got)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("detect: {quiet: soon}\n"), 0o600)
	if code, _, errOut := exitOf(t, "config", "validate", bad); code != 1 || !strings.Contains(errOut, "bad.yaml") {
		t.Errorf("validate a bad file: %d %s", code, errOut)
	}
	// What show prints loads back as the same configuration.
	round := filepath.Join(dir, "round.yaml")
	os.WriteFile(round, []byte(out), 0o600)
	if code, _, errOut := exitOf(t, "config", "validate", round); code != 0 {
		t.Errorf("config show's output does not load: %s", errOut)
	}
}

// readmeBlock runs the first sh block after marker in the README, each
// line as written (the command spelt cmdName, a fresh state directory), and
// returns what they printed; a line that fails fails the test.
func readmeBlock(t *testing.T, marker, cmdName, state string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(b)
	i := strings.Index(sec, marker)
	if i < 0 {
		t.Fatalf("README has no %q", marker)
	}
	sec = sec[i:]
	start := strings.Index(sec, "```sh\n") + len("```sh\n")
	block := sec[start : start+strings.Index(sec[start:], "```")]
	exe, _ := os.Executable()
	var outs []string
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		cmdline := strings.TrimSpace(strings.SplitN(line, "  #", 2)[0])
		cmdline = strings.ReplaceAll(cmdline, cmdName+" ", "\""+exe+"\" ")
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1", "XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+state, "HOME="+state)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README: %s: %v\n%s", line, err, out)
		}
		outs = append(outs, string(out))
	}
	return strings.Join(outs, "\n")
}

// The README's "Tuning and silencing" lines run as written, each exiting
// 0, and the silence does what it says.
func TestREADMETuningAndSilencing(t *testing.T) {
	all := readmeBlock(t, "## Tuning and silencing", "sre-agent", t.TempDir())
	for _, want := range []string{"rule", "silence ", "1 silenced", "silenced by", "disk being replaced, CHG-1234", "acknowledged by", "quiet: 10m0s"} {
		if !strings.Contains(all, want) {
			t.Errorf("the README's lines did not show %q:\n%s", want, all)
		}
	}
}

// The README's first steps (list, show the panic by the id it gives,
// verify) run as written after its first command.
func TestREADMEFirstSteps(t *testing.T) {
	state := t.TempDir()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "run", "--http-addr", "", "--out", filepath.Join(state, "out"), "examples/logs/checkout.log")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1", "XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+state, "HOME="+state)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	all := readmeBlock(t, "Then:", "go run ./cmd/sre-agent", state)
	if !strings.Contains(all, "nil pointer") || !strings.Contains(all, "chain intact") {
		t.Errorf("the README's first steps:\n%s", all)
	}
}

// Evidence is kept as read: the samples are the incident's first lines
// with their header, tag, `panic:` and fields (redacted), the latest lines
// beside them, and the trace ids with a link to Cloud Trace, in
// `incidents show`, the report and the store.
func TestEvidenceKeptAsRead(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i := range 120 { // ordinary traffic first, then the failure
		fmt.Fprintf(&b, `{"timestamp":"%s","severity":"INFO","message":"request handled path=/cart/%d","logging.googleapis.com/trace":"projects/shop-prod/traces/0af7651916cd43dd8448eb211c80319c"}`+"\n",
			start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i)
	}
	for i := range 6 {
		fmt.Fprintf(&b, `{"timestamp":"%s","severity":"ERROR","message":"gateway[1011]: panic: runtime error: invalid memory address order=%d password=hunter2secret","logging.googleapis.com/trace":"projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e473%d","logging.googleapis.com/spanId":"00f067aa0ba902b%d"}`+"\n",
			start.Add(time.Duration(121+i)*time.Second).Format(time.RFC3339), i, i, i)
	}
	logPath := filepath.Join(dir, "checkout.log")
	os.WriteFile(logPath, []byte(b.String()), 0o600)
	db, out := filepath.Join(dir, "s.db"), filepath.Join(dir, "out")
	execute(t, "", "run", "--db", db, "--out", out, "--http-addr", "", logPath)
	var list []struct{ Fingerprint string }
	json.Unmarshal([]byte(execute(t, "", "incidents", "list", "--db", db, "--json")), &list)
	if len(list) == 0 {
		t.Fatal("no incident")
	}
	show := execute(t, "", "incidents", "show", "--db", db, list[0].Fingerprint)
	for _, want := range []string{`gateway[1011]: panic: runtime error`, `"logging.googleapis.com/trace"`, "Latest lines", "order=5",
		"Traces:", "projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4730  span 00f067aa0ba902b0  https://console.cloud.google.com/traces/list?project=shop-prod&tid=4bf92f3577b34da6a3ce929d0e0e4730"} {
		if !strings.Contains(show, want) {
			t.Errorf("incidents show lacks %q:\n%s", want, show)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(out, "*.md"))
	all := show
	for _, r := range reports {
		rb, _ := os.ReadFile(r)
		all += string(rb)
	}
	if len(reports) == 0 || !strings.Contains(all, "](<https://console.cloud.google.com/traces/list?project=shop-prod") {
		t.Errorf("the report does not link the trace:\n%s", all)
	}
	if strings.Contains(all, "hunter2secret") {
		t.Error("a secret in a kept line")
	}

	// Another backend's links, from the configuration: in `incidents
	// show` (text and JSON) and in the report.
	cfg := filepath.Join(dir, "links.yaml")
	os.WriteFile(cfg, []byte("links:\n  log_query: https://grafana.example.com/explore?svc={service}&from={start_ms}&to={end_ms}\n"+
		"  trace: https://jaeger.example.com/trace/{trace}?uiFind={span}\n"), 0o600)
	out2 := filepath.Join(dir, "out2")
	execute(t, "", "--config", cfg, "run", "--db", filepath.Join(dir, "s2.db"), "--out", out2, "--http-addr", "", logPath)
	show = execute(t, "", "--config", cfg, "incidents", "show", "--db", filepath.Join(dir, "s2.db"), list[0].Fingerprint)
	for _, want := range []string{"Log query: https://grafana.example.com/explore?svc=checkout&from=", "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4730?uiFind=00f067aa0ba902b0"} {
		if !strings.Contains(show, want) {
			t.Errorf("incidents show with links lacks %q:\n%s", want, show)
		}
	}
	var shown struct {
		LogQuery   string                           `json:"log_query_url"`
		TraceLinks []struct{ ID, Span, URL string } `json:"trace_links"`
	}
	json.Unmarshal([]byte(execute(t, "", "--config", cfg, "incidents", "show", "--json", "--db", filepath.Join(dir, "s2.db"), list[0].Fingerprint)), &shown)
	if !strings.HasPrefix(shown.LogQuery, "https://grafana.example.com/") || len(shown.TraceLinks) == 0 || !strings.HasPrefix(shown.TraceLinks[0].URL, "https://jaeger.example.com/trace/") ||
		shown.TraceLinks[0].Span != "00f067aa0ba902b0" {
		t.Errorf("show --json links: %+v", shown)
	}
	reports, _ = filepath.Glob(filepath.Join(out2, "*.md"))
	all = ""
	for _, r := range reports {
		rb, _ := os.ReadFile(r)
		all += string(rb)
	}
	if !strings.Contains(all, "[Log query](<https://grafana.example.com/explore?svc=checkout&from=") || !strings.Contains(all, "](<https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e473") ||
		!strings.Contains(all, "uiFind=00f067aa0ba902b") || !strings.Contains(all, ">) span ` 00f067aa0ba902b") {
		t.Errorf("the report lacks the configured links:\n%s", all)
	}
	// A template that could send the link elsewhere is refused at load.
	os.WriteFile(cfg, []byte("links:\n  trace: https://{trace}.example.com/t/\n"), 0o600)
	if code, _, stderr := exitOf(t, "config", "validate", cfg); code != 1 || !strings.Contains(stderr, "placeholder in the host") {
		t.Errorf("a placeholder in the host: exit %d %s", code, stderr)
	}
}

// Without a model, the analysis still reads the code: with the service's
// repository configured, the report of the sample log's panic quotes the
// line at the innermost application frame, by its repository path.
func TestOfflineAnalysisQuotesTheCodeAtTheFrame(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "checkout")
	var cart strings.Builder
	cart.WriteString("package cart\n\n// Cart is a basket.\ntype Cart struct {\n\titems []Item\n}\n\n")
	for cart.Len() > 0 && strings.Count(cart.String(), "\n") < 54 {
		cart.WriteString("// filler\n")
	}
	cart.WriteString("func (c *Cart) Total() int {\n\tsum := 0\n\tfor _, it := range c.items { sum += it.Price }\n\treturn sum\n}\n\ntype Item struct{ Price int }\n")
	os.MkdirAll(filepath.Join(repo, "internal", "cart"), 0o755)
	os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module github.com/acme/checkout\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "internal", "cart", "cart.go"), []byte(cart.String()), 0o644)
	if lines := strings.Split(cart.String(), "\n"); !strings.Contains(lines[56], "range c.items") {
		t.Fatalf("line 57 is %q", lines[56])
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("repos: [{service: checkout, path: %q}]\nhttp: {addr: \"\"}\n", repo)), 0o600)
	out := filepath.Join(dir, "out")
	execute(t, "", "--config", cfg, "run", "--db", filepath.Join(dir, "s.db"), "--out", out, sampleLog)
	reports, _ := filepath.Glob(filepath.Join(out, "*.md"))
	var found string
	for _, r := range reports {
		b, _ := os.ReadFile(r)
		if strings.Contains(string(b), "nil pointer dereference") {
			found = string(b)
		}
	}
	// (The report escapes the analysis' Markdown: drop the escapes.)
	if !strings.Contains(strings.ReplaceAll(found, `\`, ""), "internal/cart/cart.go:57 reads: `for _, it := range c.items { sum += it.Price }`") {
		t.Errorf("the report does not quote the code at the frame:\n%s", found)
	}
}
