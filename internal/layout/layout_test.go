package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cloud-sre-agent/sre-agent/"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// list is `go list -deps=false -json` of every package of the module,
// with Deps (the transitive closure of its non-test imports).
func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 40 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

func under(p, dir string) bool {
	p = strings.TrimPrefix(p, module)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// Adapters (sources, stores, model providers, delivery targets) never
// depend, even indirectly, on what drives them: the pipeline, the daemon,
// the wiring or the commands.
func TestAdaptersDoNotDependOnWhatDrivesThem(t *testing.T) {
	drivers := []string{"internal/pipeline", "internal/notify", "internal/agent", "internal/app", "internal/analyze", "cmd/sre-agent"}
	for _, p := range list(t) {
		adapter := false
		for _, g := range []string{"internal/source", "internal/store", "internal/llm", "internal/delivery"} {
			adapter = adapter || under(p.ImportPath, g)
		}
		if !adapter {
			continue
		}
		for _, d := range p.Deps {
			for _, drv := range drivers {
				if strings.TrimPrefix(d, module) == drv {
					t.Errorf("%s depends on %s", strings.TrimPrefix(p.ImportPath, module), drv)
				}
			}
		}
	}
}

// config is read by doctor and every command: it names adapters' settings
// but pulls in no outside system's SDK and no adapter.
func TestConfigPullsInNoAdapterOrSDK(t *testing.T) {
	sdks := []string{"cloud.google.com/", "google.golang.org/api", "google.golang.org/genai", "github.com/google/go-github",
		"gitlab.com/gitlab-org/", "github.com/openai/", "github.com/anthropics/", "github.com/aws/", "github.com/Azure/",
		"gocloud.dev", "github.com/jackc/pgx", "modernc.org/sqlite", "github.com/nats-io/", "github.com/IBM/sarama"}
	for _, p := range list(t) {
		if strings.TrimPrefix(p.ImportPath, module) != "internal/config" {
			continue
		}
		for _, d := range p.Deps {
			for _, s := range sdks {
				if strings.HasPrefix(d, s) {
					t.Errorf("config depends on %s", d)
				}
			}
			for _, g := range []string{"internal/source/", "internal/store/", "internal/llm/", "internal/delivery/", "internal/secrets/"} {
				// The envelope codec turns messages into events; it
				// reaches no outside system.
				if rel := strings.TrimPrefix(d, module); strings.HasPrefix(rel, g) && rel != "internal/source/envelope" {
					t.Errorf("config depends on the adapter %s", strings.TrimPrefix(d, module))
				}
			}
		}
		return
	}
	t.Fatal("internal/config not listed")
}
