package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
)

// chromium is the browser the end-to-end test drives: $SRE_AGENT_CHROMIUM,
// else Debian's. CI installs it (.ci/run); elsewhere its absence skips.
func chromium(t *testing.T) string {
	p := os.Getenv("SRE_AGENT_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is missing (.ci/run installs it): %v", err)
		}
		t.Skipf("no chromium at %s (apt-get install chromium); CI runs this test", p)
	}
	return p
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// injected is a log line carrying script and HTML: the dashboard must show
// it as text and never run it.
const injected = `2026-11-20T09:05:00Z ERROR checkout failed for item <script>document.title="pwned";window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> <b>bold</b>`

// An agent fed the sample log (plus a hostile line) serves its dashboard;
// headless Chromium opens the list, opens an incident, finds the chart and
// the evidence, takes a screenshot, and shows the hostile line as text
// that never ran.
func TestDashboardInHeadlessChromium(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	sample, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath, append(sample, []byte(injected+"\n")...), 0o644)
	addr := freeAddr(t)
	a := startAgent(t, fmt.Sprintf("http: {addr: %q}\ndelivery: {type: local, local: {dir: %s}}\n", addr, filepath.Join(dir, "out"))+
		"silences:\n  - matchers: ['template=*certificate has expired*']\n    comment: cert rotation under way\n    author: ops\n", logPath)
	defer func() {
		if err := a.stop(); err != nil {
			t.Errorf("agent: %v\n%s", err, a.Stderr.String())
		}
	}()
	base := "http://" + addr
	agenttest.WaitFor(t, "the agent takes every incident through the pipeline", 30*time.Second, func() bool {
		resp, err := http.Get(base + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page := string(b)
		for _, pending := range []string{"state-new", "state-triaged", "state-analyzed", "state-proposed"} {
			if strings.Contains(page, `class="state `+pending) {
				return false
			}
		}
		return strings.Count(page, "incident-link") >= 5 && strings.Contains(page, "checkout failed for item")
	})

	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 1600))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel()

	// The list, most severe first; then the incident that carries the
	// hostile line, by clicking its link.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`table.incidents`))); err != nil {
		t.Fatalf("browser: open the list: %v", err)
	}
	rows := evaluate[int](t, bctx, `document.querySelectorAll("a.incident-link").length`)
	if enhanced := evaluate[string](t, bctx, `document.documentElement.dataset.enhanced || ""`); enhanced != "true" {
		t.Error("the dashboard's own script did not run: the test below could not tell a blocked script from a missing one")
	}
	// Silences are listed; a column header sorts (most events first).
	silences := evaluate[string](t, bctx, `(document.querySelector("#silences") || {}).textContent || ""`)
	if !strings.Contains(silences, "cert rotation under way") || !strings.Contains(silences, "config-1") {
		t.Errorf("the list does not show the silence: %q", silences)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.Search(`//th/a[.="Events"]`)), chromedp.WaitVisible(chromedp.CSS(`table.incidents`))); err != nil {
		t.Fatalf("browser: sort by events: %v", err)
	}
	counts := evaluate[[]int](t, bctx, `Array.from(document.querySelectorAll("table.incidents tbody tr td.num")).map(td => parseInt(td.textContent, 10))`)
	for i := 1; i < len(counts); i++ {
		if counts[i] > counts[i-1] {
			t.Errorf("after sorting by events the counts are %v", counts)
			break
		}
	}
	if url := evaluate[string](t, bctx, `location.search`); !strings.Contains(url, "sort=events") || len(counts) < 5 {
		t.Errorf("sort link %q, %d rows", url, len(counts))
	}
	// Pages of five, read from the store a page at a time: "next" shows
	// the rest, none twice, and keeps the order asked for.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/?sort=events&per=5"), chromedp.WaitVisible(chromedp.CSS(`table.incidents`))); err != nil {
		t.Fatalf("browser: pages of five: %v", err)
	}
	ids := `Array.from(document.querySelectorAll("a.incident-link")).map(a => a.textContent)`
	first := evaluate[[]string](t, bctx, ids)
	pager := evaluate[string](t, bctx, `(document.querySelector(".pager") || {}).textContent || ""`)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`a[rel="next"]`)), chromedp.WaitVisible(chromedp.CSS(`a[rel="prev"]`))); err != nil {
		t.Fatalf("browser: next page (%q): %v", pager, err)
	}
	second := evaluate[[]string](t, bctx, ids)
	if len(first) != 5 || len(second) == 0 || len(first)+len(second) != rows || !strings.Contains(pager, "Page 1 of 2") {
		t.Errorf("pages of five: %v then %v of %d (%q)", first, second, rows, pager)
	}
	for _, id := range second {
		if slices.Contains(first, id) {
			t.Errorf("%s on both pages", id)
		}
	}
	if url := evaluate[string](t, bctx, `location.search`); !strings.Contains(url, "page=2") || !strings.Contains(url, "sort=events") || !strings.Contains(url, "per=5") {
		t.Errorf("the next page's link %q", url)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`table.incidents`)),
		chromedp.Click(chromedp.Search(`//tr[td[contains(., "checkout failed for item")]]//a[contains(@class, "incident-link")]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
	); err != nil {
		t.Fatalf("browser: open the incident: %v", err)
	}
	if rows < 5 {
		t.Errorf("the list shows %d incidents", rows)
	}
	bars := evaluate[int](t, bctx, `document.querySelectorAll("svg.chart rect.bar").length`)
	scripts := evaluate[int](t, bctx, `document.querySelectorAll("script").length`)
	title := evaluate[string](t, bctx, `document.title`)
	pwned := evaluate[bool](t, bctx, `window.__pwned !== undefined`)
	samples := evaluate[string](t, bctx, `document.querySelector("#samples pre").textContent`)
	templates := evaluate[string](t, bctx, `document.querySelector("#templates").textContent`)
	triage := evaluate[string](t, bctx, `document.querySelector("#triage").textContent`)
	if bars == 0 {
		t.Error("the event-rate chart has no bars")
	}
	if !strings.Contains(samples, `<script>document.title="pwned";window.__pwned=1</script>`) || !strings.Contains(samples, `<b>bold</b>`) {
		t.Errorf("the hostile line is not shown as text: %q", samples)
	}
	if !strings.Contains(templates, "checkout failed for item") || !strings.Contains(triage, "Category") {
		t.Errorf("evidence missing: templates %q, triage %q", templates, triage)
	}
	if pwned || strings.Contains(title, "pwned") || scripts != 1 {
		t.Errorf("the hostile line ran: title %q, __pwned %v, %d script elements", title, pwned, scripts)
	}

	// The most severe incident, from the list: its root cause and proposal,
	// and the screenshot of the page.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`table.incidents`)),
		chromedp.Click(chromedp.CSS(`a.incident-link`)), chromedp.WaitVisible(chromedp.CSS(`svg.chart`))); err != nil {
		t.Fatalf("browser: open the first incident: %v", err)
	}
	rootCause := evaluate[string](t, bctx, `(document.querySelector("#analysis") || {}).textContent || ""`)
	proposal := evaluate[string](t, bctx, `(document.querySelector("#proposal") || {}).textContent || ""`)
	if !strings.Contains(rootCause, "Root cause") || !strings.Contains(rootCause, "confidence") || !strings.Contains(proposal, "Proposal") {
		t.Errorf("the most severe incident lacks its root cause or proposal: %q %q", rootCause, proposal)
	}
	if n := evaluate[int](t, bctx, `document.querySelectorAll("svg.chart rect.bar").length`); n == 0 {
		t.Error("no chart bars on the most severe incident")
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	if len(shot) < 10_000 {
		t.Fatalf("screenshot of %d bytes", len(shot))
	}
	out := filepath.Join(dir, "incident.png")
	if p := os.Getenv("SRE_AGENT_SCREENSHOT"); p != "" {
		out = p
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}

// evaluate runs a JavaScript expression in the page and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// Bound beyond loopback, the running agent's dashboard refuses requests
// without the configured token, serves them with it, and serves nothing at
// all when no authentication is configured; health stays open for probes.
func TestDashboardBeyondLoopbackNeedsTheToken(t *testing.T) {
	for _, withToken := range []bool{true, false} {
		dir := t.TempDir()
		_, port, _ := net.SplitHostPort(freeAddr(t))
		cfgYAML := fmt.Sprintf("http: {addr: \"0.0.0.0:%s\"}\ndelivery: {type: local, local: {dir: %s}}\n", port, filepath.Join(dir, "out"))
		if withToken {
			t.Setenv("SRE_TEST_DASHBOARD_TOKEN", "d4shb0ard-t0ken")
			cfgYAML += "dashboard: {token: env://SRE_TEST_DASHBOARD_TOKEN}\n"
		}
		a := startAgent(t, cfgYAML, sampleLog)
		base := "http://127.0.0.1:" + port
		status := func(path, token string) int {
			req, _ := http.NewRequest("GET", base+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		agenttest.WaitFor(t, "the endpoint", 20*time.Second, func() bool { return status("/healthz", "") != 0 })
		// Beyond loopback health needs the token too (and without one
		// configured, nothing is served).
		if withToken {
			if got := status("/healthz", ""); got != http.StatusUnauthorized {
				t.Errorf("health without the token: %d", got)
			}
			// The probe asks only a loopback listener: without one it
			// says what to configure.
			cfgPath := filepath.Join(dir, "probe.yaml")
			os.WriteFile(cfgPath, []byte(cfgYAML), 0o600)
			if _, _, err := runAll(t, "--config", cfgPath, "probe", "--ready"); err == nil || !strings.Contains(err.Error(), "dashboard.addr") {
				t.Errorf("probe without a loopback listener: %v", err)
			}
		} else if got := status("/healthz", ""); got != http.StatusForbidden {
			t.Errorf("health beyond loopback without authentication configured: %d", got)
		}
		if withToken {
			if got := status("/", ""); got != http.StatusUnauthorized {
				t.Errorf("no token: %d", got)
			}
			if got := status("/incidents/x", "wrong"); got != http.StatusUnauthorized {
				t.Errorf("a wrong token: %d", got)
			}
			if got := status("/", "d4shb0ard-t0ken"); got != http.StatusOK {
				t.Errorf("the token: %d", got)
			}
			if got := status("/metrics", ""); got != http.StatusUnauthorized {
				t.Errorf("metrics without the token: %d", got)
			}
			if got := status("/metrics", "d4shb0ard-t0ken"); got != http.StatusOK {
				t.Errorf("metrics with the token: %d", got)
			}
		} else if got := status("/", ""); got != http.StatusForbidden {
			t.Errorf("no authentication configured: %d", got)
		}
		if err := a.stop(); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
}

// dashboard.addr on loopback gives the UI its own listener (for kubectl
// port-forward) while http.addr serves health and metrics only.
func TestDashboardOwnLoopbackListener(t *testing.T) {
	_, mport, _ := net.SplitHostPort(freeAddr(t))
	uiAddr := freeAddr(t)
	a := startAgent(t, fmt.Sprintf("http: {addr: \"0.0.0.0:%s\"}\ndashboard: {addr: %q}\ndelivery: {type: local, local: {dir: %s}}\n",
		mport, uiAddr, t.TempDir()), sampleLog)
	code := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	agenttest.WaitFor(t, "both listeners", 20*time.Second, func() bool {
		return code("http://127.0.0.1:"+mport+"/healthz") == http.StatusForbidden && code("http://"+uiAddr+"/healthz") == 200
	})
	// The exec probe asks the loopback listener: no token needed.
	cfgPath := filepath.Join(t.TempDir(), "probe.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("http: {addr: \"0.0.0.0:%s\"}\ndashboard: {addr: %q}\n", mport, uiAddr)), 0o600)
	if out, _, err := runAll(t, "--config", cfgPath, "probe"); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("probe: %v %s", err, out)
	}
	if got := code("http://" + uiAddr + "/"); got != 200 {
		t.Errorf("the loopback dashboard: %d", got)
	}
	if got := code("http://127.0.0.1:" + mport + "/"); got != 404 {
		t.Errorf("the metrics listener serves the UI: %d", got)
	}
	// Beyond loopback metrics need the dashboard's authentication; with
	// none configured they are refused. On loopback they are open.
	if got := code("http://127.0.0.1:" + mport + "/metrics"); got != http.StatusForbidden {
		t.Errorf("metrics beyond loopback without authentication: %d", got)
	}
	if got := code("http://" + uiAddr + "/metrics"); got != 200 {
		t.Errorf("metrics on loopback: %d", got)
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
}
