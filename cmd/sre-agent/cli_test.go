package main

import (
	"bytes"
	"errors"
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
