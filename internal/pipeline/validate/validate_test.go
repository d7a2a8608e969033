package validate

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

const repo = "../coderef/testdata/samplerepo"

func TestGoFixValidatesAndABrokenOneDoesNot(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is needed to validate Go fixes")
	}
	fix := "--- a/svc/cart/cart.go\n+++ b/svc/cart/cart.go\n@@ -14,3 +14,6 @@ func New() *Cart {\n func (c *Cart) Add(item string, n int) {\n+\tif c.items == nil {\n+\t\tc.items = map[string]int{}\n+\t}\n \tc.items[item] += n // BUG: items is never made, so this panics\n }\n"
	r := Run(context.Background(), repo, fix)
	if !r.Applied || !r.Passed() {
		t.Fatalf("a good fix failed: %+v", r)
	}
	broken := strings.Replace(fix, "+\t\tc.items = map[string]int{}", "+\t\tc.items = map[string]int{\"x\": y}", 1)
	if r := Run(context.Background(), repo, broken); r.Passed() {
		t.Fatalf("a fix that does not compile passed: %+v", r)
	}
	stale := strings.Replace(fix, " \tc.items[item] += n // BUG", " \tc.items[item] += n + 0 // BUG", 1)
	if r := Run(context.Background(), repo, stale); r.Applied {
		t.Fatal("a diff against other file contents applied")
	}
}

func TestPythonAndNode(t *testing.T) {
	py := "--- a/tools/report.py\n+++ b/tools/report.py\n@@ -6,6 +6,8 @@ def top_item(orders):\n     for o in orders:\n         counts[o] = counts.get(o, 0) + 1\n     ranked = sorted(counts, key=counts.get, reverse=True)\n+    if not ranked:\n+        return None\n     return ranked[0]  # BUG: IndexError when there are no orders\n \n \n"
	r := Run(context.Background(), repo, py)
	if !r.Applied {
		t.Fatalf("python fix: %+v", r)
	}
	if _, err := exec.LookPath("python3"); err == nil && !r.Passed() {
		t.Fatalf("python fix failed: %s", r.Summary())
	}
	js := "--- a/web/user.js\n+++ b/web/user.js\n@@ -2,5 +2,5 @@\n function displayName(user) {\n   // BUG: user.profile is undefined for guests\n-  return user.profile.name;\n+  return (user.profile && user.profile.name) || \"guest\";\n }\n \n"
	r = Run(context.Background(), repo, js)
	if !r.Applied {
		t.Fatalf("js fix: %+v", r)
	}
	if _, err := exec.LookPath("node"); err == nil && !r.Passed() {
		t.Fatalf("js fix failed: %s", r.Summary())
	}
}
