package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

// The crash tests: an agent reading a Pub/Sub subscription is SIGKILLed at
// random points of a stream, some of them right after a save while its link
// to the server is frozen (so the acknowledgements of saved messages are
// lost and those messages come back), restarted on the same state each
// time, and stopped once every message is acknowledged. Acknowledged means
// counted: the stored counts are exactly those of the stream, every time.

// link is a TCP proxy between the agent and the Pub/Sub server that can be
// frozen (nothing crosses either way, as a partitioned network) and cut.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	thaw   *sync.Cond
	conns  []net.Conn
}

func newLink(t *testing.T, target string) *link {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target}
	l.thaw = sync.NewCond(&l.mu)
	t.Cleanup(func() { ln.Close(); l.cut() })
	go l.serve()
	return l
}

func (l *link) Addr() string { return l.ln.Addr().String() }

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, s)
		l.mu.Unlock()
		go l.pipe(c, s)
		go l.pipe(s, c)
	}
}

// pipe copies src to dst, holding each chunk while the link is frozen.
func (l *link) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		l.mu.Lock()
		for l.frozen {
			l.thaw.Wait()
		}
		l.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (l *link) freeze() { l.mu.Lock(); l.frozen = true; l.mu.Unlock() }

// cut closes every connection and thaws the link for the next ones.
func (l *link) cut() {
	l.mu.Lock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns, l.frozen = nil, false
	l.thaw.Broadcast()
	l.mu.Unlock()
}

// crashStream is a stream and what an agent that never crashed counts
// from it.
type crashStream struct {
	name      string
	msgs      [][]byte
	malformed int
	// total is the events the stream holds; perMinute, by minute (Unix
	// time / 60), to show where a short count lost them.
	total     int64
	perMinute map[int64]int64
}

// oneTemplateStream is the operator's crash test: n LogEntries of one
// error template of one service, a tenth of a second apart, with bad
// messages among them.
func oneTemplateStream(n, malformed int, rng *rand.Rand) crashStream {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := crashStream{name: "one-template", total: int64(n), malformed: malformed, perMinute: map[int64]int64{}}
	for i := range n {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		s.perMinute[at.Unix()/60]++
		s.msgs = append(s.msgs, []byte(fmt.Sprintf(`{"insertId":"crash-%06d","logName":"projects/proj/logs/run.googleapis.com%%2Fstderr","severity":"ERROR","textPayload":"failed to price order %d: upstream pricing returned 503","timestamp":%q,"resource":{"type":"cloud_run_revision","labels":{"service_name":"pricing"}}}`,
			i, 100000+i, at.Format(time.RFC3339Nano))))
	}
	bad := []string{"not json", `{"insertId": 3`, "\x00\x01\x02", `[1,2,3]`, `{"jsonPayload": "a string, not a LogEntry"}`, "\x1f\x8b\x08garbage", `{"textPayload": `}
	for i := range malformed {
		at := rng.IntN(len(s.msgs) + 1)
		s.msgs = append(s.msgs[:at], append([][]byte{[]byte(bad[i%len(bad)])}, s.msgs[at:]...)...)
	}
	return s
}

// crashAgent is one run of the agent binary on the crash test's state,
// reaching the server through its own link.
type crashAgent struct {
	name   string
	dir    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error
	link   *link
}

// lockedBuffer is the agent's stderr, read while the agent writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type crashRig struct {
	t     *testing.T
	dir   string
	cfg   string
	srv   *pstest.Server
	pg    string // the PostgreSQL DSN; "" is one agent on SQLite
	db    *sql.DB
	pgc   *pgx.Conn
	kills []string
	began time.Time
	total int
	// last is the agent started last, whose log a failure shows.
	last *crashAgent
}

func newCrashRig(t *testing.T, s crashStream, pg string) *crashRig {
	srv := emulator(t)
	r := &crashRig{t: t, dir: t.TempDir(), srv: srv, began: time.Now(), total: len(s.msgs), pg: pg}
	// A live stream: published as the agents keep up, at most a window
	// ahead of what is acknowledged (the emulator slows down with many
	// unacknowledged messages; a sink does not publish a day at once).
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for i := 0; i < len(s.msgs); {
			if i-r.acked() < 2000 {
				for end := min(i+500, len(s.msgs)); i < end; i++ {
					srv.Publish("projects/proj/topics/logs", s.msgs[i], nil)
				}
				continue
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	store := ""
	if pg != "" {
		store = "store: {type: postgres, dsn: env://SRE_TEST_CRASH_PG, lease_ttl: 2s}\nflush_every: 200ms\n"
		t.Setenv("SRE_TEST_CRASH_PG", pg)
		conn, err := pgx.Connect(context.Background(), pg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		r.pgc = conn
	}
	r.cfg = filepath.Join(r.dir, "c.yaml")
	// The emulator hands each streaming pull about one message per 10 ms
	// tick: ten pulls make the stream a minute, not an hour.
	os.WriteFile(r.cfg, []byte(fmt.Sprintf(`%s
http: {addr: ""}
delivery: {type: local, local: {dir: %s}}
sources:
  - type: pubsub
    pubsub: {project: proj, subscription: agent, max_outstanding_messages: 1000, max_ack_extension: 10s, num_goroutines: 10}
    decode: {format: logentry}
`, store, filepath.Join(r.dir, "out"))), 0o600)
	return r
}

// start runs the agent binary as replica name (one agent on SQLite keeps
// its state in the rig's directory; each replica its audit log and
// quarantine in its own).
func (r *crashRig) start(name string) *crashAgent {
	dir := r.dir
	if r.pg != "" {
		dir = filepath.Join(r.dir, name)
	}
	l := newLink(r.t, r.srv.Addr)
	cmd := exec.Command(os.Args[0], "--config", r.cfg, "run", "--db", filepath.Join(dir, "s.db"))
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1", "SRE_AGENT_REPLICA="+name, "PUBSUB_EMULATOR_HOST="+l.Addr(), "SRE_TEST_CRASH_PG="+r.pg)
	a := &crashAgent{name: name, dir: dir, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1), link: l}
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { a.done <- cmd.Wait() }()
	r.t.Cleanup(func() { cmd.Process.Kill() })
	r.last = a
	return a
}

// waitFor polls cond every quarter second: reading every message's state
// from the server is not free.
func (r *crashRig) waitFor(what string, d time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			log := ""
			if r.last != nil {
				r.last.cmd.Process.Signal(syscall.SIGQUIT)
				time.Sleep(time.Second)
				log = r.last.stderr.String()
				if len(log) > 20000 {
					log = log[len(log)-20000:]
				}
			}
			r.t.Fatalf("timed out waiting for %s (kills: %v; %d acknowledged, %d saved)\n%s", what, r.kills, r.acked(), r.saved(""), log)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (r *crashRig) acked() int {
	n := 0
	for _, m := range r.srv.Messages() {
		if m.Acks > 0 {
			n++
		}
	}
	return n
}

// saved is how many message keys the store holds (of replica, when named),
// -1 before it can tell.
func (r *crashRig) saved(replica string) int {
	var n int
	if r.pg != "" {
		if err := r.pgc.QueryRow(context.Background(), `SELECT count(*) FROM seen WHERE $1 = '' OR source LIKE '%@'||$1||'@%'`, replica).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	if r.db == nil {
		if _, err := os.Stat(filepath.Join(r.dir, "s.db")); err != nil {
			return -1
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(r.dir, "s.db")+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			r.t.Fatal(err)
		}
		r.db = db
		r.t.Cleanup(func() { db.Close() })
	}
	if err := r.db.QueryRow(`SELECT count(*) FROM seen`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// holder is the replica that holds the work: the lease on an incident in
// the pipeline, else the one that saved the most of the stream.
func (r *crashRig) holder(live []*crashAgent) *crashAgent {
	var owner string
	r.pgc.QueryRow(context.Background(), `SELECT coalesce(max(lease_owner), '') FROM incidents WHERE lease_until > now()`).Scan(&owner)
	best := live[0]
	for _, a := range live {
		if a.name == owner {
			return a
		}
		if r.saved(a.name) > r.saved(best.name) {
			best = a
		}
	}
	return best
}

// killAt SIGKILLs a once the server has seen frac of the messages
// acknowledged.
func (r *crashRig) killAt(a *crashAgent, frac float64) {
	want := int(frac * float64(r.total))
	r.waitFor(fmt.Sprintf("%.0f%% acknowledged", 100*frac), 120*time.Second, func() bool { return r.acked() >= want })
	r.kill(a)
	r.kills = append(r.kills, fmt.Sprintf("%s at %d acknowledged (%s)", a.name, r.acked(), time.Since(r.began).Round(time.Second)))
}

func (r *crashRig) kill(a *crashAgent) {
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	a.link.cut()
}

// killAfterSave waits for a's next save past frac, freezes its link at
// once, lets it acknowledge into the frozen link, and SIGKILLs it: the
// saved messages whose acknowledgements were lost come back.
func (r *crashRig) killAfterSave(a *crashAgent, frac float64, hold time.Duration) {
	name := a.name
	if r.pg == "" {
		name = ""
	}
	want := int(frac * float64(r.total))
	r.waitFor(fmt.Sprintf("%.0f%% saved", 100*frac), 120*time.Second, func() bool { return r.saved("") >= want })
	before := r.saved(name)
	agenttest.WaitFor(r.t, "the next save of "+a.name, 60*time.Second, func() bool { return r.saved(name) > before })
	a.link.freeze()
	time.Sleep(hold)
	r.kill(a)
	r.kills = append(r.kills, fmt.Sprintf("%s after a save at %d saved, link frozen %v (%s)", a.name, r.saved(""), hold, time.Since(r.began).Round(time.Second)))
}

// finish waits for every message to be acknowledged and stops the agents
// with SIGTERM.
func (r *crashRig) finish(agents ...*crashAgent) {
	r.waitFor("every message acknowledged", 240*time.Second, func() bool { return r.acked() == r.total })
	for _, a := range agents {
		a.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, a := range agents {
		select {
		case err := <-a.done:
			if err != nil {
				r.t.Fatalf("%s: exit after SIGTERM: %v\n%s", a.name, err, a.stderr)
			}
		case <-time.After(30 * time.Second):
			r.t.Fatalf("%s: no exit after SIGTERM\n%s", a.name, a.stderr)
		}
	}
}

// check asserts the store counts exactly the stream's events, every bad
// message is dead-lettered, and the audit chains verify.
func (r *crashRig) check(s crashStream, agents ...string) {
	t := r.t
	incs := pgIncidents
	if r.pg == "" {
		incs = func(t *testing.T, _ string) []domain.Incident {
			return storedIncidents(t, filepath.Join(r.dir, "s.db"))
		}
	}
	all := incs(t, r.pg)
	var total int64
	for _, in := range all {
		total += in.Count
	}
	redelivered := 0
	for _, m := range r.srv.Messages() {
		if m.Deliveries > 1 {
			redelivered++
		}
	}
	t.Logf("%s (%s): kills %v; %d messages redelivered; %d incidents, %d events", s.name, time.Since(r.began).Round(time.Second), r.kills, redelivered, len(all), total)
	if total != s.total {
		t.Errorf("%s: the store counts %d events, the stream holds %d (kills: %v)", s.name, total, s.total, r.kills)
		for _, in := range all {
			t.Logf("  %s %s %d %v", in.Fingerprint.Short(), in.Service, in.Count, in.Reasons)
		}
	}
	if redelivered == 0 && len(r.kills) > 0 {
		t.Errorf("no message came back: the kills tested nothing")
	}
	if total != s.total {
		r.logHeld()
		got := map[int64]int64{}
		for _, in := range all {
			for m, n := range in.Timeline {
				got[m] += n
			}
		}
		for m, n := range s.perMinute {
			if got[m] != n {
				t.Logf("  minute %s: %d events counted, the stream has %d", time.Unix(m*60, 0).UTC().Format("15:04"), got[m], n)
			}
		}
	}
	var q []byte
	dirs := []string{r.dir}
	if r.pg != "" {
		dirs = nil
		for _, a := range agents {
			dirs = append(dirs, filepath.Join(r.dir, a))
		}
	}
	for _, d := range dirs {
		b, _ := os.ReadFile(filepath.Join(d, "quarantine.jsonl"))
		q = append(q, b...)
		q = append(q, '\n')
	}
	if got := dedupLines(q); got != s.malformed {
		t.Errorf("%d distinct bad messages in the quarantine, want %d", got, s.malformed)
	}
	if r.pg != "" {
		if v, err := executeErr("", "--config", r.cfg, "audit", "verify"); err != nil {
			t.Errorf("audit verify: %v\n%s", err, v)
		}
		return
	}
	if v, err := executeErr("", "audit", "verify", "--db", filepath.Join(r.dir, "s.db")); err != nil {
		t.Errorf("audit verify: %v\n%s", err, v)
	}
}

// logHeld lists the held templates left in the store (a short count:
// are the missing events held, or gone?).
func (r *crashRig) logHeld() {
	var held map[string][]domain.HeldTemplate
	var err error
	if r.pg != "" {
		st, oerr := postgres.Open(context.Background(), r.pg, "check")
		if oerr != nil {
			r.t.Fatal(oerr)
		}
		defer st.Close()
		held, err = st.Held(context.Background(), "")
	} else {
		st, oerr := sqlite.Open(context.Background(), filepath.Join(r.dir, "s.db"))
		if oerr != nil {
			r.t.Fatal(oerr)
		}
		defer st.Close()
		held, err = st.Held(context.Background(), "")
	}
	if err != nil {
		r.t.Fatal(err)
	}
	for share, hs := range held {
		for _, h := range hs {
			r.t.Logf("  held at the end: %s %s %s: %d events, %d dropped", share, h.Service, h.Template, len(h.Events), h.Dropped)
		}
	}
}

// burn keeps one core busy until the process is killed.
func burn() {
	runtime.GOMAXPROCS(1)
	for n := 0; ; n++ {
		if n == math.MaxInt {
			n = 0
		}
	}
}

func dedupLines(b []byte) int {
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		// The quarantine line's time differs per delivery: key on the data.
		if i := strings.Index(l, `"data"`); i >= 0 {
			l = l[i:]
		}
		seen[l] = true
	}
	return len(seen)
}

func storedIncidents(t *testing.T, db string) []domain.Incident {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
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

// crashSeed is the random source of a crash run, logged so that a failure
// can be replayed (SRE_CRASH_SEED).
func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SRE_CRASH_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("SRE_CRASH_SEED=%d", seed)
	return seed
}

// crashRuns is how many streams each crash test kills its way through
// (SRE_CRASH_RUNS; CI runs the default), with one core kept busy by
// another process meanwhile (in CI, or with SRE_CRASH_LOAD=1): a count
// that holds only on an idle machine does not hold.
func crashRuns(t *testing.T) int {
	if os.Getenv("CI") != "" || os.Getenv("SRE_CRASH_LOAD") != "" {
		load := exec.Command(os.Args[0])
		load.Env = append(os.Environ(), "SRE_TEST_BURN=1")
		if err := load.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { load.Process.Kill(); load.Wait() })
	}
	runs := 3
	if v := os.Getenv("SRE_CRASH_RUNS"); v != "" {
		fmt.Sscan(v, &runs)
	}
	return runs
}

// eachCrashStream runs kill on crashRuns streams of the operator's test,
// each on a fresh store (store gives its DSN, "" for SQLite).
func eachCrashStream(t *testing.T, store func(t testing.TB) string, kill func(r *crashRig, rng *rand.Rand, s crashStream)) {
	for i := range crashRuns(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(crashSeed(t), 1))
			s := oneTemplateStream(20000, 7, rng)
			kill(newCrashRig(t, s, store(t)), rng, s)
		})
	}
}

// The operator's crash test, one agent on SQLite: several kills per run at
// random points, one of them right after a save with the link frozen.
func TestCrashCountsExactlySQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the agent binary")
	}
	eachCrashStream(t, func(testing.TB) string { return "" }, func(r *crashRig, rng *rand.Rand, s crashStream) {
		a := r.start("solo")
		r.killAt(a, 0.05+0.3*rng.Float64())
		a = r.start("solo")
		r.killAfterSave(a, 0.4+0.2*rng.Float64(), time.Duration(50+rng.IntN(300))*time.Millisecond)
		a = r.start("solo")
		r.killAt(a, 0.65+0.25*rng.Float64())
		a = r.start("solo")
		r.finish(a)
		r.check(s)
	})
}

// The same with three replicas on PostgreSQL: the one that holds the work
// is killed (once right after a save with its link frozen), and a new
// replica takes its place each time, as a new pod would.
func TestCrashCountsExactlyReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts three agent processes")
	}
	eachCrashStream(t, pgtest.DSN, func(r *crashRig, rng *rand.Rand, s crashStream) {
		live := []*crashAgent{r.start("r0"), r.start("r1"), r.start("r2")}
		names := []string{"r0", "r1", "r2"}
		replace := func(dead *crashAgent) {
			for i, a := range live {
				if a == dead {
					n := fmt.Sprintf("r%d", len(names))
					names = append(names, n)
					live[i] = r.start(n)
				}
			}
		}
		a := r.holder(live)
		r.killAt(a, 0.1+0.2*rng.Float64())
		replace(a)
		a = r.holder(live)
		r.killAfterSave(a, 0.4+0.2*rng.Float64(), time.Duration(50+rng.IntN(300))*time.Millisecond)
		replace(a)
		a = r.holder(live)
		r.killAt(a, 0.65+0.25*rng.Float64())
		replace(a)
		r.finish(live...)
		r.check(s, names...)
	})
}

// How long the stream takes without a kill (a baseline for the runs).
func TestCrashStreamWithoutAKill(t *testing.T) {
	if os.Getenv("SRE_CRASH_BASELINE") == "" {
		t.Skip("set SRE_CRASH_BASELINE=1")
	}
	rng := rand.New(rand.NewPCG(crashSeed(t), 1))
	s := oneTemplateStream(20000, 7, rng)
	r := newCrashRig(t, s, "")
	a := r.start("solo")
	r.finish(a)
	r.check(s)
}
