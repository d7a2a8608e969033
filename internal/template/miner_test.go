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
	if got, want := a.Template(), "Connection to <*> refused after <*> retries"; got != want {
		t.Errorf("template %q, want %q", got, want)
	}
	c := m.Add("user alice logged in")
	d := m.Add("user bob logged in")
	if c != d || c.Template() != "user <*> logged in" {
		t.Errorf("generalisation: %q", c.Template())
	}
	if e := m.Add("disk full on /dev/sda1"); e == a || e == c {
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
		fields := func(s string) int {
			return len(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }))
		}
		if fields(ca.Template()) != fields(a) && fields(a) <= DefaultConfig().MaxTokens {
			t.Fatalf("template %q has a different token count from %q", ca.Template(), a)
		}
	})
}
