package scm

import (
	"errors"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/coderef"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
)

const mainGo = "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"

const diff = "--- a/main.go\n+++ b/main.go\n@@ -1,5 +1,5 @@\n package main\n \n func main() {\n-\tprintln(\"hi\")\n+\tprintln(\"hello\")\n }\n"

func TestDiffMustApplyToTheVersionTheModelRead(t *testing.T) {
	p := pipeline.Proposal{Incident: domain.Incident{Fingerprint: "abcdef0123"}, Remediation: pipeline.Remediation{Diff: diff},
		Code: []coderef.Window{{Path: "main.go", Version: coderef.Version(mainGo)}}}
	fetch := func(string) (string, error) { return mainGo, nil }
	files, _, err := Files(p, "x", fetch)
	if err != nil || files["main.go"] == "" {
		t.Fatalf("same version: %v", err)
	}
	changed := func(string) (string, error) { return mainGo + "// edited since\n", nil }
	_, _, err = Files(p, "x", changed)
	var rej *pipeline.RejectError
	if !errors.As(err, &rej) || rej.Violation.Rule != "stale-file" {
		t.Fatalf("stale file: %v", err)
	}
}
