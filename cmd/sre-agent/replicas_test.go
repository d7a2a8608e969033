package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/github/githubtest"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

// logLines is a real log (Loghub's Zookeeper sample), one message per line.
func logLines(t *testing.T) []string {
	f, err := os.Open(datasets.Path(t, "loghub", "Zookeeper", "Zookeeper_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// counts is each incident's event count, by fingerprint.
func counts(incs []domain.Incident) map[domain.Fingerprint]int64 {
	out := map[domain.Fingerprint]int64{}
	for _, in := range incs {
		out[in.Fingerprint] = in.Count
	}
	return out
}

// singleAgent runs one agent on PostgreSQL over the messages: the
// reference. (Replicas decide per template on every replica's merged
// counts; one agent on SQLite groups templates into episodes, which shared
// detection does not yet do: docs/SCALING.md.)
func singleAgent(t *testing.T, lines []string) map[domain.Fingerprint]int64 {
	srv := emulator(t, messages(lines)...)
	dsn := pgtest.DSN(t)
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
store: {type: postgres, dsn: env://SRE_TEST_PG_REF_DSN}
http: {addr: ""}
flush_every: 200ms
delivery: {type: local, local: {dir: %s}}
sources:
  - type: pubsub
    pubsub: {project: proj, subscription: agent, max_outstanding_messages: 100}
    decode: {format: auto}
`, t.TempDir())), 0o600)
	r := startReplica(t, "ref", cfgPath, "SRE_TEST_PG_REF_DSN="+dsn)
	agenttest.WaitFor(t, "the single agent acknowledges every message", 60*time.Second, func() bool { return allAcked(srv) })
	r.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-r.done; err != nil {
		t.Fatalf("single agent: %v\n%s", err, r.stderr)
	}
	return counts(pgIncidents(t, dsn))
}

// pgIncidents reads every incident of the PostgreSQL store at dsn.
func pgIncidents(t *testing.T, dsn string) []domain.Incident {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, "check")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.Incidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// messages are lines as message payloads.
func messages(lines []string) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = []byte(l)
	}
	return out
}

type replica struct {
	name   string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func startReplica(t *testing.T, name, cfgPath string, env ...string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--config", cfgPath, "run")
	cmd.Env = append(append(os.Environ(), "SRE_AGENT_BE_MAIN=1", "SRE_AGENT_REPLICA="+name), env...)
	r := &replica{name: name, cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return r
}

// Three agent processes share one subscription and one PostgreSQL: they
// find the incidents a single agent finds on the same messages, with the
// same counts, although one of them is killed mid-stream; each incident
// gets one pull request; every replica's audit chain verifies.
func TestThreeReplicasBehaveAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three agent processes")
	}
	lines := logLines(t)
	want := singleAgent(t, lines)
	if len(want) < 5 {
		t.Fatalf("the reference found only %d incidents", len(want))
	}

	srv := emulator(t, messages(lines)...)
	dsn := pgtest.DSN(t)
	gh := githubtest.New()
	ghSrv := httptest.NewServer(gh)
	defer ghSrv.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
store: {type: postgres, dsn: env://SRE_TEST_PG_DSN, lease_ttl: 2s}
http: {addr: ""}
flush_every: 200ms
pipeline: {bounds: {deliveries_per_hour: 50}}
delivery:
  type: github
  github: {base_url: %s/api/v3/, owner: o, repo: r, base_branch: main, token: env://SRE_TEST_GITHUB_TOKEN}
sources:
  - type: pubsub
    pubsub: {project: proj, subscription: agent, max_outstanding_messages: 20, max_ack_extension: 10s}
    decode: {format: auto}
`, ghSrv.URL)), 0o600)
	t.Setenv("SRE_TEST_PG_DSN", dsn)
	t.Setenv("SRE_TEST_GITHUB_TOKEN", "github_pat_finegrained")
	var env []string
	var reps []*replica
	for i := range 3 {
		reps = append(reps, startReplica(t, fmt.Sprintf("r%d", i), cfgPath, env...))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	savedBy := func(r string) int {
		var n int
		conn.QueryRow(ctx, `SELECT count(*) FROM seen WHERE source LIKE '%@'||$1||'@%'`, r).Scan(&n)
		return n
	}
	// Kill r0 once it has saved some messages and holds others unacknowledged.
	agenttest.WaitFor(t, "r0 saves messages", 60*time.Second, func() bool { return savedBy("r0") >= 20 })
	reps[0].cmd.Process.Signal(syscall.SIGKILL)
	<-reps[0].done
	killedAt := savedBy("r0")
	agenttest.WaitFor(t, "every message acknowledged", 90*time.Second, func() bool { return allAcked(srv) })
	st, err := postgres.Open(ctx, dsn, "check")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	agenttest.WaitFor(t, "every incident through the pipeline", 60*time.Second, func() bool {
		all, err := st.Pending(ctx, 10)
		return err == nil && len(all) == 0
	})
	for _, r := range reps[1:] {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-r.done; err != nil {
			t.Fatalf("%s exited: %v\n%s", r.name, err, r.stderr)
		}
	}
	redelivered := 0
	for _, m := range srv.Messages() {
		if m.Deliveries > 1 {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Error("no message came back after r0 was killed: the kill tested nothing")
	}
	t.Logf("r0 killed after saving %d messages; %d messages redelivered to r1 and r2", killedAt, redelivered)
	if savedBy("r1") == 0 || savedBy("r2") == 0 || savedBy("r0") != killedAt {
		t.Errorf("work not shared: r0 %d, r1 %d, r2 %d messages", savedBy("r0"), savedBy("r1"), savedBy("r2"))
	}

	// The same incidents, the same counts.
	all, err := st.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := counts(all)
	for fp, n := range want {
		if got[fp] != n {
			t.Errorf("incident %s: %d events, the single agent counted %d", fp.Short(), got[fp], n)
		}
	}
	for fp, n := range got {
		if _, ok := want[fp]; !ok {
			t.Errorf("incident %s (%d events) the single agent did not find", fp.Short(), n)
		}
	}
	// One pull request per delivered incident, one branch each; a run
	// re-opened later is delivered as a comment on the same pull request.
	delivered, err := st.Deliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The replicas have stopped: nothing writes to the fake any more.
	prs := gh.Count("POST /repos/o/r/pulls")
	branches := map[string]int{}
	for _, pr := range gh.PRs {
		head, _ := pr["head"].(map[string]any)["ref"].(string)
		branches[head]++
	}
	if prs == 0 || prs != len(delivered) {
		t.Errorf("%d pull requests for %d delivered incidents", prs, len(delivered))
	}
	for b, n := range branches {
		if n != 1 {
			t.Errorf("branch %s has %d pull requests", b, n)
		}
	}
	// Every replica's audit chain, the killed one's included, verifies.
	res, err := st.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chains := map[string]bool{}
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("replica %s: %v", r.Replica, r.Err)
		}
		chains[r.Replica] = r.Summary.Records > 0
	}
	for _, r := range []string{"r0", "r1", "r2"} {
		if !chains[r] {
			t.Errorf("no audit chain for %s: %v", r, res)
		}
	}
	doc, _ := executeErr("", "--config", cfgPath, "doctor")
	if !strings.Contains(doc, "records verified across every replica's chain") {
		t.Errorf("doctor does not check the replicas' chains:\n%s", doc)
	}
	list := execute(t, "", "--config", cfgPath, "incidents", "list")
	for fp := range want {
		if !strings.Contains(list, fp.Short()) {
			t.Errorf("incidents list against PostgreSQL lacks %s:\n%s", fp.Short(), list)
			break
		}
	}
	if use := execute(t, "", "--config", cfgPath, "usage"); !strings.Contains(use, "offline") {
		t.Errorf("usage against PostgreSQL counts no model calls:\n%s", use)
	}
	out := execute(t, "", "--config", cfgPath, "audit", "verify")
	for _, r := range []string{"r0", "r1", "r2"} {
		if !strings.Contains(out, "ok: replica "+r+":") {
			t.Errorf("audit verify does not vouch for %s:\n%s", r, out)
		}
	}
}

// A replica killed while it holds an incident's lease (its model call in
// flight) hands the incident over: while it lives no other replica touches
// the incident; after its lease expires another replica claims it and
// takes it to the end, once.
func TestLeaseTakeoverAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts agent processes")
	}
	lines := logLines(t)[:600]
	srv := emulator(t, messages(lines)...)
	dsn := pgtest.DSN(t)
	t.Setenv("SRE_TEST_PG_DSN", dsn)
	// r3's model never answers: its first call hangs until r3 dies.
	var calls atomic.Int32
	quit := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}))
	defer hang.Close()
	defer close(quit) // before Close, which waits for the handlers
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	common := fmt.Sprintf(`
store: {type: postgres, dsn: env://SRE_TEST_PG_DSN, lease_ttl: 2s}
http: {addr: ""}
flush_every: 200ms
pipeline: {bounds: {deliveries_per_hour: 50}}
delivery: {type: local, local: {dir: %s}}
sources:
  - type: pubsub
    pubsub: {project: proj, subscription: agent, max_outstanding_messages: 20, max_ack_extension: 10s}
    decode: {format: auto}
`, out)
	hangCfg, offlineCfg := filepath.Join(dir, "hang.yaml"), filepath.Join(dir, "offline.yaml")
	os.WriteFile(hangCfg, []byte(common+fmt.Sprintf("provider: {name: ollama, max_retries: 0, timeout: 5m, ollama: {base_url: %s/v1, model: m}}\n", hang.URL)), 0o600)
	os.WriteFile(offlineCfg, []byte(common), 0o600)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	r3 := startReplica(t, "r3", hangCfg)
	var held string
	agenttest.WaitFor(t, "r3 holds an incident, its model call in flight", 60*time.Second, func() bool {
		if calls.Load() == 0 {
			return false
		}
		conn.QueryRow(ctx, `SELECT fingerprint FROM incidents WHERE lease_owner = 'r3' AND state = 'new'`).Scan(&held)
		return held != ""
	})
	r1 := startReplica(t, "r1", offlineCfg)
	// While r3 lives (and beats), r1 leaves its incident alone.
	time.Sleep(3 * time.Second)
	var owner, state string
	conn.QueryRow(ctx, `SELECT coalesce(lease_owner, ''), state FROM incidents WHERE fingerprint = $1`, held).Scan(&owner, &state)
	if owner != "r3" || state != "new" {
		t.Fatalf("while r3 lives its incident is %s, leased by %q", state, owner)
	}
	r3.cmd.Process.Signal(syscall.SIGKILL)
	<-r3.done
	agenttest.WaitFor(t, "r1 finishes r3's incident", 60*time.Second, func() bool {
		conn.QueryRow(ctx, `SELECT state FROM incidents WHERE fingerprint = $1`, held).Scan(&state)
		return state == "delivered" || state == "not-actionable" || state == "rejected" || state == "failed"
	})
	agenttest.WaitFor(t, "every message acknowledged", 60*time.Second, func() bool { return allAcked(srv) })
	st, err := postgres.Open(ctx, dsn, "check")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	agenttest.WaitFor(t, "every incident through the pipeline", 60*time.Second, func() bool {
		p, err := st.Pending(ctx, 1)
		return err == nil && len(p) == 0
	})
	r1.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-r1.done; err != nil {
		t.Fatalf("r1: %v\n%s", err, r1.stderr)
	}
	// r1 made the model calls and the outcome for the incident r3 held; r3
	// made one call that never returned, and nothing else for it.
	recs, err := st.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	for _, r := range recs {
		if r.Fingerprint == held {
			by[r.Replica+" "+string(r.Kind)]++
		}
	}
	if by["r1 model_call"] == 0 || by["r3 model_call"] != 0 || by["r3 delivery"] != 0 {
		t.Errorf("audit records of the held incident: %v", by)
	}
	if state == "delivered" {
		if by["r1 delivery"] != 1 {
			t.Errorf("deliveries of the held incident: %v", by)
		}
		if _, err := os.Stat(filepath.Join(out, held+".md")); err != nil {
			t.Errorf("no report for the held incident: %v", err)
		}
	}
	t.Logf("r3 held %s; r1 took it to %s; audit %v", held[:8], state, by)
}
