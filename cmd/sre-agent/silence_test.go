package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

// Tuning and silencing as the README shows it: a silence keeps the disk
// incident recorded and counted but out of the pipeline (no report);
// expiring it resumes the incident; acknowledging and resolving are
// recorded with who and why; everything is audited. A permanent silence
// in the config does the same.
func TestSilenceAckResolve(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "s.db"), filepath.Join(dir, "out")
	t.Setenv("SRE_AGENT_AUTHOR", "alice")
	added := execute(t, "", "silence", "add", "--db", db, "service=checkout", "template=*no space left*", "--duration", "2h", "--comment", "disk being replaced, CHG-123")
	m := regexp.MustCompile(`silence ([0-9a-f]+): until `).FindStringSubmatch(added)
	if m == nil {
		t.Fatalf("silence add: %s", added)
	}
	id := m[1]
	var listed []struct {
		ID, Author, Comment string
	}
	json.Unmarshal([]byte(execute(t, "", "silence", "list", "--db", db, "--json")), &listed)
	if len(listed) != 1 || listed[0].ID != id || listed[0].Author != "alice" {
		t.Fatalf("silence list: %+v", listed)
	}

	summary := execute(t, "", "run", "--db", db, "--out", out, "--http-addr", "", sampleLog)
	if !strings.Contains(summary, "1 silenced") || !strings.Contains(summary, "3 delivered") {
		t.Fatalf("run with a silence:\n%s", summary)
	}
	var silenced []struct {
		Fingerprint string
		Count       int
		Run         struct{ Silenced struct{ ID string } }
	}
	json.Unmarshal([]byte(execute(t, "", "incidents", "list", "--db", db, "--json", "--state", "silenced")), &silenced)
	if len(silenced) != 1 || silenced[0].Run.Silenced.ID != id || silenced[0].Count == 0 {
		t.Fatalf("silenced incidents: %+v", silenced)
	}
	fp := silenced[0].Fingerprint
	if _, err := os.Stat(filepath.Join(out, fp+".md")); err == nil {
		t.Fatal("a silenced incident was delivered")
	}
	if list := execute(t, "", "incidents", "list", "--db", db); !strings.Contains(list, "silenced by "+id+" until") {
		t.Fatalf("incidents list does not say why:\n%s", list)
	}

	execute(t, "", "silence", "expire", "--db", db, id[:6])
	if code, _, errOut := exitOf(t, "silence", "expire", "--db", db, id); code != 1 || !strings.Contains(errOut, "not in force") {
		t.Fatalf("expiring twice: %d %s", code, errOut)
	}
	summary = execute(t, "", "run", "--db", db, "--out", out, "--http-addr", "", sampleLog)
	if !strings.Contains(summary, "earlier:   1 incidents from an earlier run or analyze taken further (1 delivered)") {
		t.Fatalf("after the silence expired:\n%s", summary)
	}
	if _, err := os.Stat(filepath.Join(out, fp+".md")); err != nil {
		t.Fatal("the incident did not resume once its silence expired")
	}

	execute(t, "", "incidents", "ack", "--db", db, fp[:8], "--note", "on it")
	execute(t, "", "incidents", "resolve", "--db", db, fp[:8], "--note", "disk replaced", "--author", "bob")
	show := execute(t, "", "incidents", "show", "--db", db, fp)
	if !strings.Contains(show, "acknowledged:") || !strings.Contains(show, "by alice: on it") || !strings.Contains(show, "resolved:") || !strings.Contains(show, "by bob: disk replaced") || !regexp.MustCompile(`state: +resolved`).MatchString(show) {
		t.Fatalf("incidents show:\n%s", show)
	}
	recs, err := audit.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[audit.Kind]int{audit.KindSilence: 2, audit.KindSilenced: 2, audit.KindNote: 2} {
		if n := audit.Count(recs, kind, ""); n != want {
			t.Errorf("%d %s audit records, want %d", n, kind, want)
		}
	}

	// A permanent silence in the config: the CRITICAL incident never runs.
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("silences:\n  - matchers: [severity=critical]\n    comment: the disk alarm is known\n"), 0o600)
	db2 := filepath.Join(dir, "s2.db")
	summary = execute(t, "", "--config", cfg, "run", "--db", db2, "--out", filepath.Join(dir, "out2"), "--http-addr", "", sampleLog)
	if !strings.Contains(summary, "1 silenced") {
		t.Fatalf("config silence:\n%s", summary)
	}
	if listed := execute(t, "", "--config", cfg, "silence", "list", "--db", db2); !strings.Contains(listed, "config-1") || !strings.Contains(listed, "never (config)") {
		t.Fatalf("silence list with a config silence:\n%s", listed)
	}
	os.WriteFile(cfg, []byte("silences:\n  - matchers: [colour=red]\n    comment: x\n"), 0o600)
	if code, _, errOut := exitOf(t, "--config", cfg, "silence", "list", "--db", db2); code != 1 || !strings.Contains(errOut, "unknown name") {
		t.Fatalf("a bad config silence: %d %s", code, errOut)
	}
}

// A token pasted into a silence's comment is not kept.
func TestSilenceCommentRedacted(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	execute(t, "", "silence", "add", "--db", db, "service=x", "--duration", "1h", "--comment", "see ghp_1234567890abcdefghijklmnopqrstuvwxyz12 for access")
	if list := execute(t, "", "silence", "list", "--db", db); strings.Contains(list, "ghp_1234567890") || !strings.Contains(list, "see [REDACTED") {
		t.Fatalf("silence list:\n%s", list)
	}
}
