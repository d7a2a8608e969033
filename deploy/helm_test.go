package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

// helmVersion is the Helm the chart is rendered and linted with, built from
// the module proxy (no Helm package is on these machines).
const helmVersion = "v3.22.0"

var (
	helmOnce sync.Once
	helmBin  string
	helmErr  error
)

// helm returns a Helm binary: $SRE_AGENT_HELM, else one built once into
// the user cache.
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		if h := os.Getenv("SRE_AGENT_HELM"); h != "" {
			helmBin = h
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			helmErr = err
			return
		}
		dir := filepath.Join(cache, "sre-agent-helm", helmVersion)
		helmBin = filepath.Join(dir, "helm")
		if _, err := os.Stat(helmBin); err == nil {
			return
		}
		cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
		cmd.Dir = os.TempDir() // outside this module: its go.mod is not touched
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			helmErr = errors.New("build helm: " + err.Error() + "\n" + string(out))
		}
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmBin
}

// render runs helm template with the given --set values and returns the
// documents by kind.
func render(t *testing.T, set ...string) (map[string]obj, error) {
	t.Helper()
	args := []string{"template", "sre", "helm/sre-agent"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm(t), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(stderr.String())
	}
	docs := map[string]obj{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o obj
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if k, _ := o["kind"].(string); k != "" {
			docs[k] = o
		}
	}
	return docs, nil
}

// agentConfig loads the ConfigMap's config.yaml as the agent would.
func agentConfig(t *testing.T, cm obj) config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(p, []byte(get(cm, "data", "config.yaml").(string)), 0o600)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("the chart's config does not load: %v", err)
	}
	return cfg
}

func TestHelmChartReplicasUsePostgres(t *testing.T) {
	const ref = "gcpsm://projects/p/secrets/sre-agent-postgres-dsn/versions/latest"
	lint := exec.Command(helm(t), "lint", "helm/sre-agent", "--set", "replicaCount=3", "--set", "store.dsn="+ref)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}

	// One replica: SQLite on a volume, one writer at a time.
	one, err := render(t)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := agentConfig(t, one["ConfigMap"]); cfg.Store.Type != "sqlite" {
		t.Errorf("one replica: store %q", cfg.Store.Type)
	}
	if one["PersistentVolumeClaim"] == nil || get(one["Deployment"], "spec", "strategy", "type") != "Recreate" {
		t.Error("one replica: no volume for SQLite, or not one writer at a time")
	}

	// Replicas without a DSN reference: refused.
	if _, err := render(t, "replicaCount=3"); err == nil || !strings.Contains(err.Error(), "store.dsn") {
		t.Errorf("replicas without store.dsn rendered: %v", err)
	}

	// Three replicas: PostgreSQL, the DSN by reference only.
	three, err := render(t, "replicaCount=3", "store.dsn="+ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg := agentConfig(t, three["ConfigMap"])
	if cfg.Store.Type != "postgres" || cfg.Store.DSN != ref || cfg.Store.LeaseTTL.String() != "30s" {
		t.Errorf("three replicas: store %+v", cfg.Store)
	}
	if cfg.Sources[0].Type != "pubsub" || cfg.Delivery.Type != "github" {
		t.Errorf("the chart lost the agent's config: %+v", cfg)
	}
	dep := three["Deployment"]
	if get(dep, "spec", "replicas") != 3 || get(dep, "spec", "strategy", "type") != "RollingUpdate" {
		t.Errorf("deployment %v", get(dep, "spec"))
	}
	if three["PersistentVolumeClaim"] != nil {
		t.Error("replicas share PostgreSQL: no per-pod SQLite volume")
	}
	containers := get(dep, "spec", "template", "spec", "containers").([]any)
	env := containers[0].(obj)["env"].([]any)
	named := false
	for _, e := range env {
		if get(e, "name") == "SRE_AGENT_REPLICA" && get(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name" {
			named = true
		}
	}
	if !named {
		t.Error("pods are not named as replicas (SRE_AGENT_REPLICA from the pod name)")
	}
	if get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true ||
		get(containers[0], "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("the chart's pod is not locked down like the kustomize one")
	}
	if get(three["PodDisruptionBudget"], "spec", "minAvailable") != 2 {
		t.Errorf("pdb %v", get(three["PodDisruptionBudget"], "spec"))
	}
	pg := false
	for _, rule := range get(three["NetworkPolicy"], "spec", "egress").([]any) {
		for _, p := range get(rule, "ports").([]any) {
			if get(p, "port") == 5432 {
				pg = true
			}
		}
	}
	if !pg {
		t.Error("the network policy does not let replicas reach PostgreSQL")
	}
	if strings.Contains(get(three["ConfigMap"], "data", "config.yaml").(string), "postgres://") {
		t.Error("a connection string in the ConfigMap")
	}
}
