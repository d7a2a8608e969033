package coderef

import (
	"context"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/stack"
)

const repo = "testdata/samplerepo"

// Real-looking traces of the sample repository's bugs, as the services
// print them (build paths, not repository paths).
var traces = map[string]struct {
	trace, faulty string
}{
	"go": {"panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nexample.com/shop/svc/cart.(*Cart).Add(...)\n\t/build/src/example.com/shop/svc/cart/cart.go:15 +0x5d\nmain.main()\n\t/build/src/example.com/shop/main.go:9 +0x1d\n",
		"func (c *Cart) Add(item string, n int) {"},
	"python": {"Traceback (most recent call last):\n  File \"/app/tools/report.py\", line 13, in main\n    print(\"top item:\", top_item(orders))\n  File \"/app/tools/report.py\", line 9, in top_item\n    return ranked[0]\nIndexError: list index out of range\n",
		"def top_item(orders):"},
	"node": {"TypeError: Cannot read properties of undefined (reading 'name')\n    at displayName (/srv/app/web/user.js:4:23)\n    at render (/srv/app/web/user.js:8:25)\n    at node:internal/main/run_main_module:28:49\n",
		"function displayName(user) {"},
}

func TestFramesReachTheFaultyFunction(t *testing.T) {
	f := NewFinder(Local{Root: repo}, "")
	for lang, tc := range traces {
		ws, err := f.Gather(context.Background(), Inputs{Frames: stack.Parse(tc.trace)}, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) == 0 || !strings.Contains(ws[0].Text, tc.faulty) {
			t.Fatalf("%s: windows %+v lack %q", lang, ws, tc.faulty)
		}
		if ws[0].Version == "" || ws[0].Start < 1 {
			t.Fatalf("%s: window %+v", lang, ws[0])
		}
	}
}

func TestBudgetHolds(t *testing.T) {
	f := NewFinder(Local{Root: repo}, "")
	ws, _ := f.Gather(context.Background(), Inputs{Frames: stack.Parse(traces["python"].trace)}, 120)
	total := 0
	for _, w := range ws {
		total += len(w.Text)
	}
	if total > 120 || len(ws) == 0 {
		t.Fatalf("%d bytes in %d windows for a 120-byte budget", total, len(ws))
	}
}

func TestNoFramesSearchesForTheLoggedText(t *testing.T) {
	f := NewFinder(Local{Root: repo}, "")
	ws, _ := f.Gather(context.Background(), Inputs{Templates: []string{"top item: <*>"}}, 4000)
	if len(ws) != 0 {
		t.Fatalf("a too-short constant was searched: %+v", ws)
	}
	ws, _ = f.Gather(context.Background(), Inputs{Texts: []string{"error in tools/report.py:9 while ranking"}}, 4000)
	if len(ws) != 1 || ws[0].Path != "tools/report.py" || !strings.Contains(ws[0].Text, "9: ") {
		t.Fatalf("file named in the error text: %+v", ws)
	}
	ws, _ = f.Gather(context.Background(), Inputs{Templates: []string{"<*> items is never made, so this panics"}}, 4000)
	if len(ws) != 1 || ws[0].Path != "svc/cart/cart.go" {
		t.Fatalf("template search: %+v", ws)
	}
}

func TestMapPath(t *testing.T) {
	files := []string{"svc/cart/cart.go", "src/main/java/com/acme/Foo.java", "cart.go"}
	for in, want := range map[string]string{
		"/build/src/example.com/shop/svc/cart/cart.go": "svc/cart/cart.go",
		"com/acme/Foo.java":                            "src/main/java/com/acme/Foo.java",
		"/elsewhere/lib.go":                            "",
	} {
		if got, _ := MapPath(files, in); got != want {
			t.Errorf("%s -> %q, want %q", in, got, want)
		}
	}
}

func TestMapMatchesServiceOrResourceLabels(t *testing.T) {
	m, err := NewMap([]Repo{
		{Labels: map[string]string{"resource_type": "cloud_run_revision", "service_name": "reports"}, Path: repo, PathPrefix: "tools"},
		{Service: "checkout", Path: repo, PathPrefix: "svc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	byLabels := domain.Incident{Service: "whatever", Labels: map[string]string{"resource_type": "cloud_run_revision", "service_name": "reports", "region": "eu"}}
	if f, r := m.For(byLabels); f == nil || r.PathPrefix != "tools" {
		t.Fatalf("labels: %+v", r)
	}
	if f, r := m.For(domain.Incident{Service: "checkout"}); f == nil || r.PathPrefix != "svc" {
		t.Fatalf("service: %+v", r)
	}
	if f, _ := m.For(domain.Incident{Service: "other", Labels: map[string]string{"service_name": "reports"}}); f != nil {
		t.Fatal("a partial label match chose a repository")
	}
	if _, err := NewMap([]Repo{{Path: repo}}); err == nil {
		t.Fatal("an entry with neither service nor labels was accepted")
	}
}
