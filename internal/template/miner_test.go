package template

import (
	"strings"
	"testing"
)

func TestMinerGroupsAndGeneralises(t *testing.T) {
	m := New(DefaultConfig())
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
	m := New(DefaultConfig())
	c := m.Add("request done uid=42 took=35ms path=/api/v1/users")
	if got, want := c.Template(), "request done uid=<*> took=<*> path=<*>"; got != want {
		t.Errorf("template %q, want %q", got, want)
	}
}

func TestTemplateIDIsStableAcrossRuns(t *testing.T) {
	lines := []string{"open file /tmp/a failed", "open file /tmp/b failed", "job 7 done"}
	ids := func() []string {
		m := New(DefaultConfig())
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
	m := New(cfg)
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

func TestSeedKeepsIDs(t *testing.T) {
	m := New(DefaultConfig())
	c := m.Seed("Connection to <*> refused", 10)
	if got := m.Add("Connection to 10.1.1.1 refused"); got != c {
		t.Errorf("seeded template not reused: %q", got.Template())
	}
	if c.Count() != 11 {
		t.Errorf("count %d, want 11", c.Count())
	}
}

func FuzzMiner(f *testing.F) {
	for _, s := range []string{"a b c", "uid=1 x", "", "<*> <*>", "  spaced   out  "} {
		f.Add(s, "a b d")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		m := New(DefaultConfig())
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
