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
