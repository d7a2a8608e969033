package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

// analyze saves into the configured store: with store.type postgres the
// incidents land in PostgreSQL (not a SQLite file), where `incidents list`
// reads them, and the command's own audit chain records the DSN read.
func TestAnalyzeUsesTheConfiguredStore(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("store: {type: postgres, dsn: env://SRE_TEST_ANALYZE_DSN}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(os.Args[0], append([]string{"--config", cfgPath}, args...)...)
		cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1", "SRE_TEST_ANALYZE_DSN="+dsn, "HOME="+dir, "XDG_STATE_HOME="+dir)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sre-agent %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	abs, _ := filepath.Abs("../../examples/logs/checkout.log")
	run("analyze", abs)
	var listed []domain.Incident
	if err := json.Unmarshal(run("incidents", "list", "--json"), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) == 0 {
		t.Fatal("incidents list read nothing from PostgreSQL after analyze")
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && filepath.Ext(path) == ".db" {
			t.Errorf("analyze wrote a SQLite store %s with store.type postgres", path)
		}
		return nil
	})
}
