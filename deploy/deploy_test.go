// Package deploy_test checks the container and Kubernetes manifests the
// way a reviewer would: non-root, read-only, no key files, probes on the
// health endpoints, restricted Pod Security, egress only to DNS and HTTPS.
package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	user := ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		}
	}
	if len(froms) < 2 {
		t.Fatal("not a multi-stage build")
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless") && last != "scratch" {
		t.Fatalf("final image %s is neither distroless nor scratch", last)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Fatalf("runs as %q", user)
	}
	for _, want := range []string{"-trimpath", "-X main.version=", "CGO_ENABLED=0", "ENTRYPOINT"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

type obj = map[string]any

func get(o any, path ...string) any {
	for _, p := range path {
		m, ok := o.(obj)
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func manifests(t *testing.T) map[string]obj {
	t.Helper()
	files, _ := filepath.Glob("kubernetes/*.yaml")
	out := map[string]obj{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var o obj
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		kind, _ := o["kind"].(string)
		out[kind] = o
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	m := manifests(t)
	for _, kind := range []string{"Kustomization", "Namespace", "ServiceAccount", "ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "PersistentVolumeClaim"} {
		if m[kind] == nil {
			t.Fatalf("no %s", kind)
		}
	}
	if get(m["Namespace"], "metadata", "labels", "pod-security.kubernetes.io/enforce") != "restricted" {
		t.Error("namespace does not enforce the restricted Pod Security Standard")
	}
	if a, _ := get(m["ServiceAccount"], "metadata", "annotations", "iam.gke.io/gcp-service-account").(string); !strings.HasSuffix(a, ".iam.gserviceaccount.com") {
		t.Error("service account lacks the Workload Identity annotation")
	}
	pod := get(m["Deployment"], "spec", "template", "spec")
	if get(pod, "securityContext", "runAsNonRoot") != true || get(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Error("pod security context is not restricted")
	}
	for _, v := range get(pod, "volumes").([]any) {
		if get(v, "secret") != nil {
			t.Error("a secret volume is mounted: key files do not belong in the pod")
		}
	}
	c := get(pod, "containers").([]any)[0]
	if get(c, "securityContext", "allowPrivilegeEscalation") != false || get(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("container may escalate or write its root filesystem")
	}
	if caps, _ := get(c, "securityContext", "capabilities", "drop").([]any); len(caps) != 1 || caps[0] != "ALL" {
		t.Error("capabilities are not all dropped")
	}
	if get(c, "resources", "requests", "memory") == nil || get(c, "resources", "limits", "memory") == nil {
		t.Error("no resource requests and limits")
	}
	// The probes are the agent's own (sre-agent probe): beyond loopback
	// the health endpoints need a token an httpGet probe cannot send.
	live, _ := get(c, "livenessProbe", "exec", "command").([]any)
	ready, _ := get(c, "readinessProbe", "exec", "command").([]any)
	if len(live) < 2 || live[len(live)-1] != "probe" || len(ready) < 2 || ready[len(ready)-1] != "--ready" {
		t.Errorf("probes are not sre-agent probe [--ready]: %v %v", live, ready)
	}
	for _, e := range get(c, "env").([]any) {
		if get(e, "name") == "GOOGLE_APPLICATION_CREDENTIALS" {
			t.Error("a key file is named in the environment")
		}
	}
	for _, rule := range get(m["NetworkPolicy"], "spec", "egress").([]any) {
		for _, p := range get(rule, "ports").([]any) {
			if port := get(p, "port"); port != 53 && port != 443 {
				t.Errorf("egress to port %v", port)
			}
		}
	}
	// The config in the ConfigMap loads: references only, valid.
	cfgText, _ := get(m["ConfigMap"], "data", "config.yaml").(string)
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(cfgText), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	if !cfg.Production() {
		t.Error("the deployed config is not in production mode")
	}
}

// The Terraform grants only what the agent uses: no project-wide role but
// log writing (and Vertex when asked), subscriber on the one subscription,
// no service-account keys.
func TestTerraformLeastPrivilege(t *testing.T) {
	files, _ := filepath.Glob("terraform/*.tf")
	var all strings.Builder
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	tf := all.String()
	if strings.Contains(tf, "google_service_account_key") {
		t.Fatal("a service-account key is created")
	}
	for _, block := range strings.Split(tf, "resource \"google_project_iam_member\"")[1:] {
		role := block[strings.Index(block, "role"):]
		role = role[:strings.Index(role, "\n")]
		if !strings.Contains(role, "roles/logging.logWriter") && !strings.Contains(role, "roles/aiplatform.user") {
			t.Errorf("project-wide %s", role)
		}
		if strings.Contains(role, "aiplatform") && !strings.Contains(block, "var.use_vertex ? 1 : 0") {
			t.Error("roles/aiplatform.user is granted unconditionally")
		}
	}
	for _, want := range []string{
		"resource \"google_pubsub_subscription_iam_member\" \"agent_subscribes\"", "roles/pubsub.subscriber",
		"roles/secretmanager.secretAccessor", "for_each  = toset(var.secret_ids)",
		"dead_letter_policy", "filter                 = var.log_filter", "roles/iam.workloadIdentityUser",
		"INGRESS_TRAFFIC_INTERNAL_ONLY",
	} {
		if !strings.Contains(tf, want) {
			t.Errorf("terraform lacks %s", want)
		}
	}
	for _, broad := range []string{"roles/owner", "roles/editor", "roles/pubsub.admin", "roles/secretmanager.admin"} {
		if strings.Contains(tf, broad) {
			t.Errorf("terraform grants %s", broad)
		}
	}
}
