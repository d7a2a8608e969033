package template

import (
	"strings"
	"testing"
)

func newMiner(t testing.TB, cfg Config) *Miner {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMinerGroupsAndGeneralises(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	a := m.Add("Connection to 10.0.0.1:5432 refused after 3 retries")
	b := m.Add("Connection to 10.0.0.2:5432 refused after 5 retries")
	if a != b {
		t.Fatalf("same shape, different templates: %q vs %q", a.Template(), b.Template())
	}
	if got, want := a.Template(), "Connection to <*>:<*> refused after <*> retries"; got != want {
		t.Errorf("template %q, want %q", got, want)
	}
	// Two different words are two events ("begin"/"end", "true"/"false")
	// until a third shows the position holds names.
	c := m.Add("user alice logged in")
	d := m.Add("user bob logged in")
	if c.Seq() == d.Seq() {
		t.Errorf("two words merged at once: %q", c.Template())
	}
	e := m.Add("user carol logged in")
	if e.Seq() != c.Seq() || d.Seq() != c.Seq() || e.Template() != "user <*> logged in" || e.Count() != 3 {
		t.Errorf("names did not merge: %q (%d)", e.Template(), e.Count())
	}
	if f := m.Add("disk full on /dev/sda1"); f == a || f.Seq() == c.Seq() {
		t.Error("different message joined an existing template")
	}
	if a.Count() != 2 || m.Len() != 3 {
		t.Errorf("count %d, templates %d", a.Count(), m.Len())
	}
}

func TestMaskKeepsKeys(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	c := m.Add("request done uid=42 took=35ms path=/api/v1/users")
	if got, want := c.Template(), "request done uid=<*> took=<*> path=<*>"; got != want {
		t.Errorf("template %q, want %q", got, want)
	}
}

func TestTemplateIDIsStableAcrossRuns(t *testing.T) {
	lines := []string{"open file /tmp/a failed", "open file /tmp/b failed", "job 7 done"}
	ids := func() []string {
		m := newMiner(t, DefaultConfig())
		var out []string
		for _, l := range lines {
			out = append(out, string(m.Add(l).ID()))
		}
		return out
	}
	first, second := ids(), ids()
	if strings.Join(first, ",") != strings.Join(second, ",") {
		t.Errorf("ids differ between runs: %v vs %v", first, second)
	}
}

func TestLRUBound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTemplates = 3
	m := newMiner(t, cfg)
	old := m.Add("alpha beta gamma")
	for _, l := range []string{"one", "one two", "one two three", "x y z w"} {
		m.Add(l)
	}
	if m.Len() != 3 {
		t.Fatalf("Len %d, want 3", m.Len())
	}
	if m.Evicted != 2 {
		t.Errorf("Evicted %d, want 2", m.Evicted)
	}
	if again := m.Add("alpha beta gamma"); again == old {
		t.Error("evicted template still matched")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Similarity: 0, MaxTemplates: 1, MaxTokens: 1}, {Similarity: 0.5, MaxTemplates: 0, MaxTokens: 1}, {Similarity: 0.5, MaxTemplates: 1, MaxTokens: 0}, {Similarity: 1.5, MaxTemplates: 1, MaxTokens: 1}} {
		if _, err := New(c); err == nil {
			t.Errorf("invalid config accepted: %+v", c)
		}
	}
}

func FuzzMiner(f *testing.F) {
	for _, s := range []string{"a b c", "uid=1 x", "", "<*> <*>", "  spaced   out  "} {
		f.Add(s, "a b d")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		m := newMiner(t, DefaultConfig())
		ca := m.Add(a)
		cb := m.Add(b)
		// A template always matches the line that made it.
		if again := m.Add(a); again != ca && again != cb {
			t.Fatalf("line %q no longer matches its template", a)
		}
		n := len(m.tokenize(a))
		fields := strings.FieldsFunc(ca.Template(), func(r rune) bool { return r == ' ' || r == '\t' })
		if got := len(fields); got != n && !strings.ContainsRune(a, '"') {
			t.Fatalf("template %q has %d tokens, the line %q %d", ca.Template(), got, a, n)
		}
		// A persisted template, restored in a new miner, takes its line.
		if strings.ContainsAny(a, "<>\"") || n == 0 {
			return
		}
		m2 := newMiner(t, DefaultConfig())
		r := m2.Restore(ca.ID(), ca.Template())
		if got := m2.Add(a); got != r {
			t.Fatalf("restored template %q did not take its line %q (made %q)", r.Template(), a, got.Template())
		}
	})
}

func TestIDSurvivesGeneralisationAndRestart(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	a := m.Add("worker 7 failed to fetch lock=233, tag=\"View Lock\"")
	id := a.ID()
	b := m.Add("worker 9 failed to fetch lock=417, tag=\"RILJ\"")
	if b.Seq() != a.Seq() || b.ID() != id {
		t.Fatalf("generalising changed the id: %s -> %s (%q)", id, b.ID(), b.Template())
	}
	// A new process restores the persisted template and finds it again.
	m2 := newMiner(t, DefaultConfig())
	r := m2.Restore(id, a.Template())
	c := m2.Add("worker 12 failed to fetch lock=9, tag=\"x y\"")
	if c != r || c.ID() != id || m2.Len() != 1 {
		t.Fatalf("after restore: id %s, template %q, %d templates", c.ID(), c.Template(), m2.Len())
	}
	if m2.Restore(id, "anything") != r {
		t.Fatal("restoring twice made a second template")
	}
}

func TestMergedNamesKeepTheOldestID(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	first := m.Add("session closed for user alice")
	id := first.ID()
	m.Add("session closed for user bob")
	last := m.Add("session closed for user carol")
	if last.ID() != id || first.ID() != id {
		t.Fatalf("merged template ids: %s %s, want %s", first.ID(), last.ID(), id)
	}
}

func TestNoAllocationPerLine(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	lines := []string{"connect to 10.0.0.1:5432 failed after 3 tries, state=open", "user alice logged in", "disk /dev/sda1 at 91%"}
	for _, l := range lines {
		m.Add(l)
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, l := range lines {
			m.Add(l)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round of known lines", allocs)
	}
}

// BenchmarkMinerContent mines every Loghub system's Content column, the
// lines published parsers are scored on, with one miner per system as in
// the accuracy test (go test -run '^$' -bench MinerContent ./internal/template).
func BenchmarkMinerContent(b *testing.B) {
	var sets [][]string
	total := 0
	for _, sys := range systems {
		content, _ := loadStructured(b, sys)
		sets = append(sets, content)
		total += len(content)
	}
	miners := make([]*Miner, len(sets))
	for i := range miners {
		miners[i] = newMiner(b, DefaultConfig())
		for _, l := range sets[i] { // steady state: templates learnt
			miners[i].Add(l)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		for i, set := range sets {
			for _, l := range set {
				miners[i].Add(l)
				n++
				if n == b.N {
					break
				}
			}
			if n == b.N {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// An access log keeps the method and the status class: failing requests
// are not one template with successful ones.
func TestAccessLogKeepsMethodAndStatusClass(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	lines := []string{
		`"GET /api/cart/1 HTTP/1.1" 200 512 "-" "curl/8.0"`,
		`"GET /api/cart/2 HTTP/1.1" 200 431 "-" "curl/8.0"`,
		`"GET /api/cart/3 HTTP/1.1" 503 12 "-" "curl/8.0"`,
		`"GET /api/cart/4 HTTP/1.1" 502 12 "-" "curl/8.0"`,
		`"POST /api/cart/4 HTTP/1.1" 503 12 "-" "curl/8.0"`,
	}
	var cs []*Cluster
	for _, l := range lines {
		cs = append(cs, m.Add(l))
	}
	if cs[0] != cs[1] || cs[2] != cs[3] || cs[0] == cs[2] || cs[2] == cs[4] {
		t.Fatalf("groups: %d %d %d %d %d", cs[0].Seq(), cs[1].Seq(), cs[2].Seq(), cs[3].Seq(), cs[4].Seq())
	}
	if got := cs[2].Template(); got != `"GET <*> HTTP/1.1" 5xx <*> "<*>" "<*>"` {
		t.Errorf("template %q", got)
	}
}

// A redaction marker is a variable: a redacted line joins its unredacted
// siblings, and names with a number in them are entities.
func TestMarkersAndEntitiesAreVariables(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	a := m.Add("synchronized to [REDACTED:ipv4], stratum 3")
	b := m.Add("synchronized to [REDACTED:ipv4], stratum 2")
	c := m.Add("authentication failure; logname= uid=0 rhost=[REDACTED:ipv4]")
	d := m.Add("authentication failure; logname= uid=0 rhost=host.example")
	if a != b || c != d {
		t.Errorf("markers split groups: %q %q / %q %q", a.Template(), b.Template(), c.Template(), d.Template())
	}
	x := m.Add("Lustre mount FAILED : bglio559 : point /p/gb1")
	y := m.Add("Lustre mount FAILED : bglio344 : point /p/gb1")
	if x != y || x.Template() != "Lustre mount FAILED : <*> : point <*>" {
		t.Errorf("one failure on two nodes: %q %q", x.Template(), y.Template())
	}
}
