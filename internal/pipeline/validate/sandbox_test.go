package validate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostileRepo is a copy of the sample repository the test may change.
func hostileRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := copyTree(repo, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A diff that tries to leave the copy, or read a host file into the
// result, is refused before anything is written.
func TestValidationStaysInsideItsCopy(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secretfile")
	os.WriteFile(secret, []byte("TOKEN=hunter2\n"), 0o600)
	rel, _ := filepath.Rel("/", outside)
	cases := map[string]string{
		"traversal": "--- /dev/null\n+++ b/../../../../../../../../" + rel + "/home/.config/go/env\n@@ -0,0 +1 @@\n+CC=/bin/sh " + outside + "/x.sh\n",
		"absolute":  "diff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b/../../../../../../../.." + outside + "/x.sh\n@@ -0,0 +1 @@\n+touch " + outside + "/ran\n",
		"copy":      "diff --git a/../../../../../../../../" + rel + "/secretfile b/leak.py\nsimilarity index 100%\ncopy from ../../../../../../../../" + rel + "/secretfile\ncopy to leak.py\n",
		"rename":    "diff --git a/svc/cart/cart.go b/leak.go\nsimilarity index 100%\nrename from svc/cart/cart.go\nrename to leak.go\n",
	}
	for name, diff := range cases {
		r := Run(context.Background(), hostileRepo(t), diff)
		if r.Applied || r.Error == "" {
			t.Errorf("%s: applied %+v", name, r)
		}
		if strings.Contains(r.Error+r.Summary(), "hunter2") {
			t.Errorf("%s: a host file was read into the result: %s", name, r.Error)
		}
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("files appeared outside the copy: %v", entries)
	}
}

// The tools run with nothing of the agent's environment: a C compiler,
// -toolexec or a go env file set there are never used, cgo is off, and a
// module the tree adds cannot shadow the checker.
func TestToolsRunInAScrubbedEnvironment(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is needed")
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "x.sh")
	os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\nexec \"$@\"\n"), 0o755)
	goenv := filepath.Join(dir, "goenv")
	os.WriteFile(goenv, []byte("CC="+script+"\nGOFLAGS=-toolexec="+script+"\n"), 0o600)
	t.Setenv("CC", script)
	t.Setenv("GOFLAGS", "-toolexec="+script)
	t.Setenv("GOENV", goenv)
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("PYTHONSTARTUP", script)
	cgo := "diff --git a/svc/cart/cgo.go b/svc/cart/cgo.go\nnew file mode 100644\n--- /dev/null\n+++ b/svc/cart/cgo.go\n@@ -0,0 +1,5 @@\n+package cart\n+\n+import \"C\"\n+\n+var _ = C.int(1)\n"
	r := Run(context.Background(), hostileRepo(t), cgo)
	if !r.Applied {
		t.Fatalf("not applied: %+v", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the agent's environment reached a tool: the attacker's compiler ran")
	}
	if _, err := exec.LookPath("python3"); err == nil {
		shadow := "diff --git a/py_compile.py b/py_compile.py\nnew file mode 100644\n--- /dev/null\n+++ b/py_compile.py\n@@ -0,0 +1,2 @@\n+import os\n+os.system('touch " + marker + "')\n" +
			"diff --git a/tools/report.py b/tools/report.py\n--- a/tools/report.py\n+++ b/tools/report.py\n@@ -1,2 +1,3 @@\n+# checked\n" + firstLines(t, "tools/report.py", 2)
		r := Run(context.Background(), hostileRepo(t), shadow)
		if !r.Applied {
			t.Fatalf("python: %+v", r)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("a py_compile.py in the tree ran")
		}
	}
}

func firstLines(t *testing.T, name string, n int) string {
	b, err := os.ReadFile(filepath.Join(repo, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")[:n]
	return " " + strings.Join(lines, " ")
}

// Where the kernel gives the tools their own network namespace (as it
// does on the CI machine), nothing they run reaches even loopback.
func TestToolsHaveNoNetwork(t *testing.T) {
	if err := netnsAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI machines isolate validation's network: %v", err)
		}
		t.Logf("no network namespace here (%v); the environment alone keeps tools offline", err)
		return
	}
	sb := newSandbox(t.TempDir(), t.TempDir())
	c := sb.run(context.Background(), "-", "probe", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5432 && echo connected")
	if c.Passed || strings.Contains(c.Output, "connected") {
		t.Fatalf("a tool reached 127.0.0.1:5432: %+v", c)
	}
	if !strings.Contains(sb.describe(), "own network namespace") {
		t.Fatal(sb.describe())
	}
}

func TestOutputIsCapped(t *testing.T) {
	sb := newSandbox(t.TempDir(), t.TempDir())
	c := sb.run(context.Background(), "-", "yes", "bash", "-c", "head -c 1000000 /dev/zero | tr '\\0' x")
	if len(c.Output) > keep+20 || !strings.HasSuffix(c.Output, "[output cut]") {
		t.Fatalf("output %d bytes", len(c.Output))
	}
}
