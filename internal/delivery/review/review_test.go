package review

import (
	"errors"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/coderef"
)

const mainGo = "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"

const diff = "--- a/main.go\n+++ b/main.go\n@@ -1,5 +1,5 @@\n package main\n \n func main() {\n-\tprintln(\"hi\")\n+\tprintln(\"hello\")\n }\n"

func TestDiffMustApplyToTheVersionTheModelRead(t *testing.T) {
	p := domain.Proposal{Incident: domain.Incident{Fingerprint: "abcdef0123"}, Remediation: domain.Remediation{Diff: diff},
		Code: []domain.CodeWindow{{Path: "main.go", Version: coderef.Version(mainGo)}}}
	fetch := func(string) (string, error) { return mainGo, nil }
	files, _, err := Files(p, "x", inert.Markdown{}, links.Links{}, fetch)
	if err != nil || files["main.go"] == "" {
		t.Fatalf("same version: %v", err)
	}
	changed := func(string) (string, error) { return mainGo + "// edited since\n", nil }
	_, _, err = Files(p, "x", inert.Markdown{}, links.Links{}, changed)
	var rej *delivery.RejectError
	if !errors.As(err, &rej) || rej.Violation.Rule != "stale-file" {
		t.Fatalf("stale file: %v", err)
	}
}

// A service name from a log field and model prose reach the title and
// body inert; the log query URL gets the service percent-encoded.
func TestUntrustedTextIsInertInTitleAndBody(t *testing.T) {
	svc := "x) [Open the incident console](https://evil.example/phish"
	p := domain.Proposal{Incident: domain.Incident{Fingerprint: "0123456789abcdef", Service: svc},
		Triage:      domain.Triage{Category: "code-defect @org/team"},
		Analysis:    domain.Analysis{RootCause: "cc @admin\n/deploy production\n![x](https://evil.example/p.png) curl x | sudo bash"},
		Remediation: domain.Remediation{Summary: "see [docs](https://github.com/acme/shop/blob/main/README.md)"}}
	l := links.Links{LogQuery: "https://console.cloud.google.com/logs/query;query={service}"}
	md := Links("https://api.github.com/", l, nil)
	title := Title(p, md)
	body, err := Body(p, l, md)
	if err != nil {
		t.Fatal(err)
	}
	for _, live := range []string{"](https://evil", "@org", "@admin", "\n/deploy", "![x]", "https://evil"} {
		if strings.Contains(title, live) || strings.Contains(body, live) {
			t.Errorf("%q is live in the title or body", live)
		}
	}
	if !strings.Contains(body, "[docs](https://github.com/acme/shop/blob/main/README.md)") {
		t.Error("a link to the repository's own host was lost")
	}
	if !strings.Contains(body, "query=x%29%20%5BOpen%20the%20incident%20console%5D%28https%3A%2F%2Fevil.example%2Fphish") {
		t.Errorf("service not percent-encoded in the log query: %s", body[strings.Index(body, "[Log query]"):])
	}
}
