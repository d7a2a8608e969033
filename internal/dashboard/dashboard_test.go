package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/idtoken"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// seededStore is a real SQLite store holding incs (as the pipeline saved
// them) and runs, filled on first use so a test may change them before;
// broken makes every read fail as a store that is down does.
type seededStore struct {
	t      testing.TB
	incs   []domain.Incident
	runs   map[domain.Fingerprint]json.RawMessage
	broken bool
	db     *sqlite.Store
}

var errDown = errors.New("database is down")

func (f *seededStore) store() *sqlite.Store {
	if f.db != nil {
		return f.db
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(f.t.TempDir(), "incidents.db"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	if err := db.Save(ctx, "test", nil, f.incs); err != nil {
		f.t.Fatal(err)
	}
	// Each incident's state and run as the pipeline would have left them.
	for _, in := range f.incs {
		run, ok := f.runs[in.Fingerprint]
		if !ok && in.State == domain.StateNew {
			continue
		}
		if !ok {
			run = json.RawMessage(`{"number":1}`)
		}
		if err := db.Advance(ctx, in.Fingerprint, in.State, run); err != nil {
			f.t.Fatal(err)
		}
	}
	f.db = db
	return db
}

func (f *seededStore) Query(ctx context.Context, q domain.Query) (domain.Page, error) {
	if f.broken {
		return domain.Page{}, errDown
	}
	return f.store().Query(ctx, q)
}

func (f *seededStore) CountByState(ctx context.Context) (map[domain.State]int, error) {
	if f.broken {
		return nil, errDown
	}
	return f.store().CountByState(ctx)
}

func (f *seededStore) Services(ctx context.Context) ([]string, error) {
	if f.broken {
		return nil, errDown
	}
	return f.store().Services(ctx)
}

func (f *seededStore) Find(ctx context.Context, id string) (*domain.Incident, json.RawMessage, error) {
	if f.broken {
		if err := row.CheckID(id); err != nil {
			return nil, nil, err
		}
		return nil, nil, errDown
	}
	return f.store().Find(ctx, id)
}

type fakeTrail struct {
	recs []audit.Record
	bad  error
}

func (f *fakeTrail) Records(context.Context) ([]audit.Record, error) { return f.recs, nil }
func (f *fakeTrail) RecordsOf(_ context.Context, fp domain.Fingerprint) ([]audit.Record, error) {
	var out []audit.Record
	for _, r := range f.recs {
		if r.Fingerprint == string(fp) {
			out = append(out, r)
		}
	}
	return out, nil
}
func (f *fakeTrail) Verify(context.Context) (string, error) { return "3 records", f.bad }

const hostile = `checkout failed <script>document.title="pwned"</script> <img src=x onerror=alert(1)>`

func fixture(t testing.TB) (*seededStore, *fakeTrail, *prometheus.Registry) {
	t.Helper()
	tl := domain.Timeline{}
	tl.Add(t0.Unix()/60, 5)
	tl.Add(t0.Unix()/60+3, 12)
	st := &seededStore{t: t, runs: map[domain.Fingerprint]json.RawMessage{}}
	st.incs = []domain.Incident{
		{Fingerprint: "aaaa1111bbbb2222cccc", Service: "checkout", Severity: domain.Critical, State: domain.StateDelivered, Count: 17,
			FirstSeen: t0, LastSeen: t0.Add(3 * time.Minute), Reasons: []domain.Reason{domain.ReasonFatal}, Timeline: tl,
			Templates: []domain.Template{{ID: "t1", Text: hostile, Count: 17}}, Samples: []string{hostile}, Stack: "panic: boom\n\tmain.go:7",
			Services: []string{"checkout", "orders"}, Entities: []string{"node-17", hostile},
			Why: &domain.Explanation{Rule: domain.ReasonBurst, At: t0, Service: "checkout", Template: hostile, ShortWindow: time.Minute, LongWindow: 5 * time.Minute,
				ShortErrors: 40, ShortEvents: 60, LongErrors: 55, LongEvents: 300, BaselineRatio: 0.04, Threshold: 0.12, TemplateCount: 40},
			Episodes: []domain.Episode{{Start: t0, End: t0.Add(3 * time.Minute), Count: 17}}},
		{Fingerprint: "dddd3333eeee4444ffff", Service: "payments", Severity: domain.Error, State: domain.StateNew, Count: 3,
			FirstSeen: t0, LastSeen: t0.Add(10 * time.Minute), Templates: []domain.Template{{ID: "t2", Text: "gateway timeout after <*>", Count: 3}}},
		{Fingerprint: "9999aaaa0000bbbb1111", Service: "checkout", Severity: domain.Error, State: domain.StateFailed, Count: 1,
			FirstSeen: t0, LastSeen: t0.Add(20 * time.Minute), Templates: []domain.Template{{ID: "t3", Text: "cache miss storm", Count: 1}}},
	}
	run := domain.Run{Number: 1, Triage: &domain.Triage{Category: "code-defect", Actionable: true, Confidence: 0.8, Reasoning: "a nil map"},
		Analysis:    &domain.Analysis{RootCause: "the cart map is never made", Confidence: 0.65},
		Remediation: &domain.Remediation{Summary: "make the map", Risk: "low", Diff: "--- a/cart.go\n+++ b/cart.go\n@@ -1 +1 @@\n-var m map[string]int\n+var m = map[string]int{}\n"},
		Delivery:    &domain.Delivery{Target: "github", Location: "https://github.example/o/r/pull/7"}}
	b, _ := json.Marshal(run)
	st.runs["aaaa1111bbbb2222cccc"] = b
	tr := &fakeTrail{recs: []audit.Record{
		{Seq: 1, Time: time.Now().AddDate(0, 0, -2), Kind: audit.KindModelCall, Replica: "r1", Fingerprint: "aaaa1111bbbb2222cccc", Outcome: "ok",
			Fields: map[string]any{"input_tokens": json.Number("1200"), "output_tokens": json.Number("300"), "cost_usd": json.Number("0.01")}},
		{Seq: 2, Time: time.Now(), Kind: audit.KindModelCall, Replica: "r1", Fingerprint: "aaaa1111bbbb2222cccc", Outcome: "ok",
			Fields: map[string]any{"input_tokens": json.Number("1000"), "output_tokens": json.Number("500"), "cost_usd": json.Number("0.25")}},
		{Seq: 3, Time: time.Now(), Kind: audit.KindDelivery, Replica: "r1", Fingerprint: "aaaa1111bbbb2222cccc", Outcome: "delivered"},
		{Seq: 4, Time: time.Now(), Kind: audit.KindDeadLetter, Replica: "r1", Outcome: "invalid-json"},
	}}
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_events_total"}, []string{"source", "severity"})
	events.WithLabelValues("pubsub:logs", "ERROR").Add(40)
	events.WithLabelValues("pubsub:logs", "INFO").Add(60)
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_messages_total"}, []string{"source", "outcome"})
	msgs.WithLabelValues("pubsub:logs", "processed").Add(98)
	msgs.WithLabelValues("pubsub:logs", "dead_lettered").Add(2)
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_model_calls_total"}, []string{"provider", "stage", "outcome"})
	calls.WithLabelValues("gemini", "triage", "ok").Add(5)
	calls.WithLabelValues("gemini", "analysis", "error").Add(1)
	reg.MustRegister(events, msgs, calls)
	return st, tr, reg
}

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

func newUI(t *testing.T, auth Auth) (http.Handler, *seededStore) {
	t.Helper()
	st, tr, reg := fixture(t)
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg, Auth: auth, Budget: Budget{Tokens: 10000, CostUSD: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

func TestListFiltersSearchesAndOrders(t *testing.T) {
	h, _ := newUI(t, Auth{})
	resp, body := get(t, h, "GET", "/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Most severe first, then newest.
	a, b, c := strings.Index(body, "aaaa1111"), strings.Index(body, "9999aaaa"), strings.Index(body, "dddd3333")
	if a < 0 || !(a < b && b < c) {
		t.Errorf("order: critical %d, newest error %d, older error %d", a, b, c)
	}
	for _, tc := range []struct{ q, want, not string }{
		{"/?state=new", "dddd3333", "aaaa1111"},
		{"/?service=checkout", "9999aaaa", "dddd3333"},
		{"/?severity=CRITICAL", "aaaa1111", "9999aaaa"},
		{"/?q=GATEWAY", "dddd3333", "aaaa1111"},
		{"/?q=nothing-like-it", "No incident matches", "incident-link"},
	} {
		_, body := get(t, h, "GET", tc.q)
		if !strings.Contains(body, tc.want) || strings.Contains(body, tc.not) {
			t.Errorf("%s: want %s and not %s", tc.q, tc.want, tc.not)
		}
	}
	if _, body := get(t, h, "GET", "/?sort=newest"); strings.Index(body, "9999aaaa") > strings.Index(body, "aaaa1111") {
		t.Error("sort=newest does not put the newest first")
	}
}

func TestIncidentPageShowsEvidenceAndEscapesLogText(t *testing.T) {
	h, st := newUI(t, Auth{})
	resp, body := get(t, h, "GET", "/incidents/aaaa1111")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{`<svg class="chart"`, `<rect class="bar"`, "the cart map is never made", "confidence 65%", "a nil map",
		`<span class="diff-add">&#43;var m = map[string]int{}</span>`, `href="https://github.example/o/r/pull/7"`, "panic: boom",
		"model_call", "delivered", `&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;`, `&lt;img src=x onerror=alert(1)&gt;`,
		"Why it opened", "error-burst", "40 errors of 60 events in 1m0s", "4% errors; the rule fires at 12%", "checkout, orders", "node-17", `id="episodes"`} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>document") || strings.Contains(body, "<img src=x") {
		t.Error("log text reached the page as markup")
	}
	if n := strings.Count(body, "<script"); n != 1 {
		t.Errorf("%d script elements, want only app.js", n)
	}
	if resp, _ := get(t, h, "GET", "/incidents/ffffffff"); resp.StatusCode != 404 {
		t.Errorf("unknown incident: %d", resp.StatusCode)
	}
	st.broken = true
	if resp, body := get(t, h, "GET", "/incidents/ffffffff"); resp.StatusCode != 500 || strings.Contains(body, "database is down") {
		t.Errorf("a broken store: %d (its error must be logged, not shown)", resp.StatusCode)
	}
}

func TestReadOnlyAndHeaders(t *testing.T) {
	h, _ := newUI(t, Auth{})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		resp, _ := get(t, h, m, "/")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
	resp, _ := get(t, h, "GET", "/status")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("security headers missing")
	}
	resp, body := get(t, h, "GET", "/static/app.js")
	if resp.StatusCode != 200 || !strings.Contains(body, "DOMContentLoaded") {
		t.Errorf("app.js: %d", resp.StatusCode)
	}
}

func TestAuditAndStatusPages(t *testing.T) {
	st, tr, reg := fixture(t)
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg, Budget: Budget{Tokens: 10000, CostUSD: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "GET", "/audit")
	if !strings.Contains(body, "Chain verified: 3 records") || !strings.Contains(body, "invalid-json") {
		t.Errorf("audit page:\n%s", body)
	}
	tr.bad = errors.New("line 2 (seq 2): hash does not match")
	if _, body := get(t, h, "GET", "/audit"); !strings.Contains(body, "Chain broken: line 2 (seq 2): hash does not match") {
		t.Error("a broken chain is not shown")
	}
	_, body = get(t, h, "GET", "/status")
	// Today's calls only (the first record is from another day): 1,500
	// tokens of 10,000, $0.25 of $1.
	for _, want := range []string{"pubsub:logs", ">100<", "Dead-lettered in all: 2", "1 calls, 1500 tokens of 10000 (15%)", "$0.2500 of $1.0000 (25%)",
		"<td>gemini</td>", "Rates show from the next visit"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}

type fakeValidator struct {
	payload *idtoken.Payload
	err     error
}

func (f fakeValidator) Validate(_ context.Context, tok, aud string) (*idtoken.Payload, error) {
	if f.err != nil {
		return nil, f.err
	}
	if aud != "/projects/1/global/backendServices/2" || tok != "signed" {
		return nil, errors.New("wrong audience or token")
	}
	return f.payload, nil
}

func TestBeyondLoopbackEveryPageNeedsAuthentication(t *testing.T) {
	open, _ := newUI(t, Auth{Required: true})
	if resp, body := get(t, open, "GET", "/"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "dashboard.token") {
		t.Errorf("no authentication configured: %d", resp.StatusCode)
	}
	token := func(context.Context) (string, error) { return "s3cret-token", nil }
	h, _ := newUI(t, Auth{Required: true, Token: token})
	for _, p := range []string{"/", "/incidents/aaaa1111", "/audit", "/status", "/static/app.js"} {
		if resp, _ := get(t, h, "GET", p); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a token: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := get(t, h, "GET", "/", "Authorization", "Bearer wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", resp.StatusCode)
	}
	if resp, _ := get(t, h, "GET", "/", "Authorization", "Bearer s3cret-token"); resp.StatusCode != 200 {
		t.Errorf("the right token: %d", resp.StatusCode)
	}
	iap := func(p *idtoken.Payload, err error) http.Handler {
		h, _ := newUI(t, Auth{Required: true, IAP: fakeValidator{p, err}, IAPAudience: "/projects/1/global/backendServices/2"})
		return h
	}
	good := &idtoken.Payload{Issuer: iapIssuer, Claims: map[string]any{"email": "sre@example.com"}}
	if resp, _ := get(t, iap(good, nil), "GET", "/", "X-Goog-Iap-Jwt-Assertion", "signed"); resp.StatusCode != 200 {
		t.Errorf("a verified IAP assertion: %d", resp.StatusCode)
	}
	if resp, _ := get(t, iap(good, nil), "GET", "/", "X-Goog-Authenticated-User-Email", "accounts.google.com:sre@example.com"); resp.StatusCode != 401 {
		t.Errorf("an unsigned identity header was trusted: %d", resp.StatusCode)
	}
	if resp, _ := get(t, iap(&idtoken.Payload{Issuer: "https://evil.example"}, nil), "GET", "/", "X-Goog-Iap-Jwt-Assertion", "signed"); resp.StatusCode != 401 {
		t.Errorf("an assertion from another issuer: %d", resp.StatusCode)
	}
	if resp, _ := get(t, iap(nil, errors.New("bad signature")), "GET", "/", "X-Goog-Iap-Jwt-Assertion", "signed"); resp.StatusCode != 401 {
		t.Errorf("a badly signed assertion: %d", resp.StatusCode)
	}
}

func TestChartBinsAndPads(t *testing.T) {
	if c := NewChart(nil); !c.Empty {
		t.Error("an empty timeline drew bars")
	}
	tl := domain.Timeline{}
	tl.Add(1000, 4)
	c := NewChart(tl)
	if len(c.Bars) != 30 || c.Max != 4 || c.BinMinutes != 1 {
		t.Fatalf("one minute: %d bars, max %d, bin %d", len(c.Bars), c.Max, c.BinMinutes)
	}
	tl = domain.Timeline{}
	for m := int64(0); m < 600; m++ {
		tl.Add(m, 1)
	}
	c = NewChart(tl)
	var total int64
	for _, b := range c.Bars {
		total += b.Count
		if b.H <= 0 || b.Y+b.H != c.Height {
			t.Fatalf("bar %+v", b)
		}
	}
	if len(c.Bars) != 60 || c.BinMinutes != 10 || total != 600 {
		t.Fatalf("ten hours: %d bars of %d min, %d events", len(c.Bars), c.BinMinutes, total)
	}
}

// pageSpy records the queries the list asks of the store.
type pageSpy struct {
	*seededStore
	asked []domain.Query
}

func (p *pageSpy) Query(ctx context.Context, q domain.Query) (domain.Page, error) {
	p.asked = append(p.asked, q)
	return p.seededStore.Query(ctx, q)
}

// The list reads one page from the store (never the whole store): pages
// of 100 or of ?per= rows, in order and disjoint, filters and order kept
// in the links, a page past the end showing the last.
func TestListPagesInTheStore(t *testing.T) {
	st, tr, reg := fixture(t)
	for i := range 600 {
		st.incs = append(st.incs, domain.Incident{Fingerprint: domain.Fingerprint(strings.Repeat("0", 12) + fmt.Sprintf("%08d", i)),
			Service: "bulk", Severity: domain.Warning, State: domain.StateNew, Count: int64(i + 1), FirstSeen: t0, LastSeen: t0,
			Templates: []domain.Template{{ID: "tb", Text: "x"}}})
	}
	spy := &pageSpy{seededStore: st}
	h, err := New(Options{Store: spy, Audit: tr, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "GET", "/")
	if n := strings.Count(body, "incident-link"); n != pageRows || !strings.Contains(body, "Page 1 of 7 (603 matching incidents)") || !strings.Contains(body, `rel="next" href="/?page=2"`) {
		t.Errorf("%d rows shown", n)
	}
	if q := spy.asked[len(spy.asked)-1]; q.Limit != pageRows || q.Offset != 0 {
		t.Errorf("the store was asked for %+v, not one page", q)
	}
	// The last page holds the rest, and links back; filters are kept.
	_, body = get(t, h, "GET", "/?page=6&service=bulk&sort=events")
	if n := strings.Count(body, "incident-link"); n != 600-5*pageRows || !strings.Contains(body, `rel="prev" href="/?page=5&amp;service=bulk&amp;sort=events"`) || strings.Contains(body, `rel="next"`) {
		t.Errorf("last page: %d rows\n%.3000s", n, body)
	}
	if q := spy.asked[len(spy.asked)-1]; q.Offset != 5*pageRows || q.Service != "bulk" || q.Sort != "events" {
		t.Errorf("the store was asked for %+v", q)
	}
	// Pages of 25 by events: disjoint, and each page's counts below the
	// page before.
	seen, last := map[string]bool{}, 1<<30
	ids := regexp.MustCompile(`href="/incidents/(\w+)"`)
	counts := regexp.MustCompile(`<td class="num">(\d+)</td>`)
	for page := 1; page <= 24; page++ {
		_, body := get(t, h, "GET", fmt.Sprintf("/?service=bulk&sort=events&per=25&page=%d", page))
		found := ids.FindAllStringSubmatch(body, -1)
		if len(found) != 25 {
			t.Fatalf("page %d of 25 rows: %d", page, len(found))
		}
		for _, m := range found {
			if seen[m[1]] {
				t.Fatalf("page %d repeats %s", page, m[1])
			}
			seen[m[1]] = true
		}
		for _, m := range counts.FindAllStringSubmatch(body, -1) {
			n, _ := strconv.Atoi(m[1])
			if n > last {
				t.Fatalf("page %d: %d events after %d", page, n, last)
			}
			last = n
		}
		if page < 24 && !strings.Contains(body, fmt.Sprintf(`rel="next" href="/?page=%d&amp;per=25&amp;service=bulk&amp;sort=events"`, page+1)) {
			t.Fatalf("page %d: no next link keeping per", page)
		}
	}
	if len(seen) != 600 {
		t.Errorf("24 pages of 25 showed %d incidents", len(seen))
	}
	// Past the end (the list shrank): the last page.
	_, body = get(t, h, "GET", "/?service=bulk&per=25&page=99")
	if !strings.Contains(body, "Page 24 of 24") || strings.Count(body, "incident-link") != 25 {
		t.Errorf("past the end:\n%.2000s", body)
	}
}

// Ids that cannot name one incident are a 400, an unknown one a 404,
// each logged; the static folder lists nothing; bidirectional controls in
// log text are shown as code points.
func TestBadIDsStaticAndBidi(t *testing.T) {
	st, tr, reg := fixture(t)
	st.incs[0].Samples = []string{"user \u202eexe.ppa\u202c logged in"}
	st.incs = append(st.incs, domain.Incident{Fingerprint: "aaaa9999", Service: "x", Templates: []domain.Template{{ID: "t9", Text: "x"}}})
	var logs strings.Builder
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/incidents/aaaa": 400, "/incidents/" + strings.Repeat("a", 50000): 400, "/incidents/ffff": 404, "/incidents/aaaa1": 200} {
		if resp, body := get(t, h, "GET", path); resp.StatusCode != want {
			t.Errorf("%.40s: %d, want %d: %.200s", path, resp.StatusCode, want, body)
		}
	}
	if !strings.Contains(logs.String(), "bad incident id") || !strings.Contains(logs.String(), "no such incident") {
		t.Errorf("the dashboard did not log its refusals:\n%s", logs.String())
	}
	if resp, _ := get(t, h, "GET", "/static/"); resp.StatusCode != 404 {
		t.Errorf("/static/ answered %d", resp.StatusCode)
	}
	_, body := get(t, h, "GET", "/incidents/aaaa1111")
	if strings.Contains(body, "\u202e") || !strings.Contains(body, "202E]") {
		t.Error("a bidirectional override reached the page")
	}
}

// The incident page shows where its changes are notified (the effective
// route) and what each receiver was told; a receiver's error text, which
// may echo an outside service, is escaped.
func TestIncidentPageShowsNotifications(t *testing.T) {
	st, tr, reg := fixture(t)
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg,
		Routes: func(in domain.Incident, _ *domain.Run) []Route {
			return []Route{{Receiver: "oncall", Route: "route.routes[0]", Transitions: []string{"opened", "resolved"}},
				{Receiver: "team-slack", Route: "route", Transitions: []string{"opened", "triaged"}}}
		},
		Conversations: func(_ context.Context, fp domain.Fingerprint) ([]domain.Conversation, error) {
			return []domain.Conversation{{Fingerprint: fp, Receiver: "team-slack", Thread: "C0INC/1700000000.000001", Sent: 3, Last: "proposed", LastAt: t0},
				{Fingerprint: fp, Receiver: "oncall", Sent: 1, Failures: 2, Error: hostile, RetryAt: t0.Add(time.Minute)}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "GET", "/incidents/aaaa1111")
	for _, want := range []string{`id="notifications"`, "<code>route.routes[0]</code>", "opened, resolved", "C0INC/1700000000.000001", "proposed",
		"2 in a row: checkout failed &lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>document") {
		t.Error("a receiver's error reached the page as markup")
	}
	// Without notifications configured the section is absent.
	if _, body := get(t, newUIHandler(t), "GET", "/incidents/aaaa1111"); strings.Contains(body, `id="notifications"`) {
		t.Error("a notifications section with nothing configured")
	}
}

func newUIHandler(t *testing.T) http.Handler {
	h, _ := newUI(t, Auth{})
	return h
}

// The list shows the silences in force (log-like text escaped); the
// incident page shows who acknowledged and resolved it, and the silence
// that stopped it.
func TestSilencesAndAcknowledgements(t *testing.T) {
	st, tr, reg := fixture(t)
	now := time.Now()
	run := domain.Run{Number: 1, Silenced: &domain.Silenced{ID: "abc123", At: t0, From: domain.StateNew, Until: now.Add(time.Hour)}}
	b, _ := json.Marshal(run)
	st.runs["dddd3333eeee4444ffff"] = b
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg,
		Silences: func(context.Context) ([]domain.Silence, error) {
			return []domain.Silence{
				{ID: "abc123", Matchers: []domain.Matcher{{Name: "service", Value: "payments"}}, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Author: "alice", Comment: hostile},
				{ID: "old999", Matchers: []domain.Matcher{{Name: "service", Value: "x"}}, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour), Author: "bob", Comment: "over"},
			}, nil
		},
		Notes: func(_ context.Context, fp domain.Fingerprint) ([]domain.Note, error) {
			return []domain.Note{{Fingerprint: fp, Kind: "acknowledged", Author: "carol", Text: "on it " + hostile, At: t0}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "GET", "/")
	if !strings.Contains(body, `id="silences"`) || !strings.Contains(body, "abc123") || !strings.Contains(body, "<code>service=payments</code>") || strings.Contains(body, "old999") {
		t.Errorf("list page silences:\n%.2000s", body)
	}
	_, page := get(t, h, "GET", "/incidents/dddd3333")
	for _, want := range []string{`id="people"`, "carol", "acknowledged", `id="silenced"`, "<code>abc123</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	for _, b := range []string{body, page} {
		if strings.Contains(b, "<script>document") {
			t.Error("a comment or note reached the page as markup")
		}
	}
}

// The list shows each incident's triage category and the needs-attention
// flag, searches its category and root cause, sorts by any column, keeps
// a time range, refreshes itself when asked; audit details are rendered
// as pairs, not raw JSON.
func TestListColumnsSortRangeRefresh(t *testing.T) {
	st, tr, reg := fixture(t)
	run := domain.Run{Number: 1, Triage: &domain.Triage{Category: "dependency"}, Analysis: &domain.Analysis{RootCause: "the payments pool is exhausted"},
		Attention: []domain.Finding{{Rule: "instruction"}}}
	b, _ := json.Marshal(run)
	st.runs["dddd3333eeee4444ffff"] = b
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg,
		Now: func() time.Time { return t0.Add(12 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "GET", "/")
	if !strings.Contains(body, "<td>dependency</td>") || !strings.Contains(body, "needs attention") || !strings.Contains(body, "code-defect") {
		t.Errorf("category or attention missing:\n%.3000s", body)
	}
	for q, want := range map[string][]string{
		"/?q=pool+is+exhausted": {"dddd3333"}, "/?q=DEPENDENCY": {"dddd3333"},
	} {
		_, body := get(t, h, "GET", q)
		for _, w := range want {
			if !strings.Contains(body, w) || strings.Contains(body, "9999aaaa") {
				t.Errorf("%s: want only %s", q, w)
			}
		}
	}
	_, body = get(t, h, "GET", "/?sort=events")
	if a, c := strings.Index(body, "aaaa1111"), strings.Index(body, "9999aaaa"); a < 0 || a > c { // 17 events before 1
		t.Error("sort=events: not most events first")
	}
	_, body = get(t, h, "GET", "/?sort=service")
	if p, c := strings.Index(body, "dddd3333"), strings.Index(body, "aaaa1111"); p < c { // checkout before payments
		t.Error("sort=service: not alphabetical")
	}
	// In the last hour, 70 minutes after t0: last seen at t0+10m and
	// t0+20m are in, at t0+3m out.
	later, _ := New(Options{Store: st, Audit: tr, Gatherer: reg, Now: func() time.Time { return t0.Add(70 * time.Minute) }})
	_, body = get(t, later, "GET", "/?since=1h")
	if strings.Contains(body, "aaaa1111") || !strings.Contains(body, "9999aaaa") || !strings.Contains(body, "dddd3333") || !strings.Contains(body, `value="1h" selected`) {
		t.Errorf("since=1h:\n%.2000s", body)
	}
	_, body = get(t, h, "GET", "/?refresh=30")
	if !strings.Contains(body, `<meta http-equiv="refresh" content="30">`) {
		t.Error("no refresh")
	}
	if _, body = get(t, h, "GET", "/?refresh=1"); strings.Contains(body, "http-equiv") {
		t.Error("a refresh faster than 10 s was taken")
	}
	_, page := get(t, h, "GET", "/incidents/aaaa1111")
	if !strings.Contains(page, `<dl class="fields"><dt>cost_usd</dt><dd>0.01</dd>`) || strings.Contains(page, `<pre class="fields">`) {
		t.Errorf("audit details not rendered as pairs:\n%.500s", page[strings.Index(page, `id="audit"`):])
	}
}

// The incident page links the incident's log query and each trace: Google
// Cloud's consoles for evidence from Google Cloud, the configured
// templates otherwise; a hostile trace id is percent-encoded in the link
// and shown as text.
func TestIncidentPageLinks(t *testing.T) {
	st, tr, reg := fixture(t)
	st.incs[0].Labels = map[string]string{"resource_type": "cloud_run_revision", "project_id": "shop-prod", "service_name": "checkout"}
	st.incs[0].Traces = []string{"projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736", `"><script>alert(1)</script>`}
	st.incs[0].Spans = map[string]string{"projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736": "00f067aa0ba902b7"}
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "GET", "/incidents/aaaa1111")
	for _, want := range []string{`class="log-query" href="https://console.cloud.google.com/logs/query;query=resource.type%3D%22cloud_run_revision%22`,
		`href="https://console.cloud.google.com/traces/list?project=shop-prod&amp;tid=4bf92f3577b34da6a3ce929d0e0e4736"`, `span <code>00f067aa0ba902b7</code>`,
		`<li><code>&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</code></li>`} {
		if !strings.Contains(body, want) {
			t.Errorf("default links: no %s in\n%s", want, body[strings.Index(body, `id="traces"`):][:1200])
		}
	}
	h, err = New(Options{Store: st, Audit: tr, Gatherer: reg,
		Links: links.Links{LogQuery: "https://kibana.example.com/app/discover?q={service}", Trace: "https://tempo.example.com/trace/{trace}"}})
	if err != nil {
		t.Fatal(err)
	}
	_, body = get(t, h, "GET", "/incidents/aaaa1111")
	for _, want := range []string{`class="log-query" href="https://kibana.example.com/app/discover?q=checkout"`,
		`href="https://tempo.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736"`,
		`href="https://tempo.example.com/trace/%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`} {
		if !strings.Contains(body, want) {
			t.Errorf("configured links: no %s", want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("a trace id reached the page as markup")
	}
}
