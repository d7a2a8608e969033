package patch

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNamesAsGitApplyWritesThem(t *testing.T) {
	cases := []struct {
		name, diff string
		old, new   string
		git        bool
	}{
		{"git edit", "diff --git a/app/x.go b/app/x.go\nindex 1..2 100644\n--- a/app/x.go\n+++ b/app/x.go\n@@ -1 +1 @@\n-a\n+b\n", "app/x.go", "app/x.go", true},
		{"traditional edit", "--- a/app/x.go\n+++ b/app/x.go\n@@ -1 +1 @@\n-a\n+b\n", "app/x.go", "app/x.go", false},
		{"traditional with timestamps", "--- a/app/x.go\t2026-01-01 00:00:00\n+++ b/app/x.go\t2026-01-02 00:00:00\n@@ -1 +1 @@\n-a\n+b\n", "app/x.go", "app/x.go", false},
		{"traditional other prefixes", "--- orig/app/x.go\n+++ fixed/app/x.go\n@@ -1 +1 @@\n-a\n+b\n", "app/x.go", "app/x.go", false},
		{"git new", "diff --git a/app/n.go b/app/n.go\nnew file mode 100644\n--- /dev/null\n+++ b/app/n.go\n@@ -0,0 +1 @@\n+a\n", "", "app/n.go", true},
		{"traditional new", "--- /dev/null\n+++ b/app/n.go\n@@ -0,0 +1 @@\n+a\n", "", "app/n.go", false},
		{"quoted", "diff --git \"a/app/caf\\303\\251.go\" \"b/app/caf\\303\\251.go\"\n--- \"a/app/caf\\303\\251.go\"\n+++ \"b/app/caf\\303\\251.go\"\n@@ -1 +1 @@\n-a\n+b\n", "app/café.go", "app/café.go", true},
		{"spaces", "diff --git a/app/my file.go b/app/my file.go\n--- a/app/my file.go\n+++ b/app/my file.go\n@@ -1 +1 @@\n-a\n+b\n", "app/my file.go", "app/my file.go", true},
		{"added line mentions a header", "--- b/.github/workflows/d.yml\n+++ b/.github/workflows/d.yml\n@@ -1 +1,2 @@\n on: push\n+# diff --git a/x b/x\n", ".github/workflows/d.yml", ".github/workflows/d.yml", false},
		{"removed line looks like a header", "--- a/app/x.go\n+++ b/app/x.go\n@@ -1,2 +1 @@\n--- a/y\n-+++ b/y\n+z\n", "app/x.go", "app/x.go", false},
	}
	for _, c := range cases {
		p, err := Parse(c.diff)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(p.Files) != 1 {
			t.Errorf("%s: %d files", c.name, len(p.Files))
			continue
		}
		f := p.Files[0]
		if f.Old != c.old || f.New != c.new || f.Git != c.git {
			t.Errorf("%s: old %q new %q git %v, want %q %q %v", c.name, f.Old, f.New, f.Git, c.old, c.new, c.git)
		}
	}
}

func TestAmbiguousDiffsAreRefused(t *testing.T) {
	cases := map[string]string{
		"mixed formats":          "diff --git a/a.go b/a.go\n--- a/a.go\n+++ b/a.go\n@@ -1 +1 @@\n-a\n+b\n--- b/.github/w.yml\n+++ b/.github/w.yml\n@@ -1 +1 @@\n-a\n+b\n",
		"header names disagree":  "diff --git a/app/a.go b/app/a.go\n--- a/.github/w.yml\n+++ b/.github/w.yml\n@@ -1 +1 @@\n-a\n+b\n",
		"--- and +++ disagree":   "--- a/app/a.go\n+++ b/.github/w.yml\n@@ -1 +1 @@\n-a\n+b\n",
		"nothing to strip":       "--- x.go\n+++ x.go\n@@ -1 +1 @@\n-a\n+b\n",
		"unsplittable git names": "diff --git a/x y b/z w\n--- a/x y\n+++ b/z w\n@@ -1 +1 @@\n-a\n+b\n",
		"carriage return":        "--- a/x.go\r\n+++ b/x.go\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n",
		"control in a name":      "diff --git \"a/x\\033[2J.go\" \"b/x\\033[2J.go\"\n--- \"a/x\\033[2J.go\"\n+++ \"b/x\\033[2J.go\"\n@@ -1 +1 @@\n-a\n+b\n",
		"dev null without mode":  "diff --git a/x.go b/x.go\n--- /dev/null\n+++ b/x.go\n@@ -0,0 +1 @@\n+a\n",
	}
	for name, diff := range cases {
		if _, err := Parse(diff); !errors.Is(err, ErrAmbiguous) {
			t.Errorf("%s: err = %v, want ErrAmbiguous", name, err)
		}
	}
	for _, bad := range []string{"", "just words", "diff --git \"a/x\\q.go\" \"b/x\\q.go\"\n--- \"a/x\\q.go\"\n+++ \"b/x\\q.go\"\n@@ -1 +1 @@\n-a\n+b\n", "--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n-a\n+b\n"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFilePaths(t *testing.T) {
	p, err := Parse("--- a/b.go\n+++ b/b.go\n@@ -1 +1 @@\n-a\n+b\n--- /dev/null\n+++ b/c.go\n@@ -0,0 +1 @@\n+c\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]string{p.Files[0].Paths(), p.Files[1].Paths()}; !slices.Equal(got[0], []string{"b.go"}) || !slices.Equal(got[1], []string{"c.go"}) {
		t.Fatalf("paths %v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("diff --git a/app/x.go b/app/x.go\n--- a/app/x.go\n+++ b/app/x.go\n@@ -1 +1 @@\n-a\n+b\n")
	f.Add("--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n a\n+# diff --git a/y b/y\n")
	f.Add("diff --git \"a/\\303\\251\" \"b/\\303\\251\"\nnew file mode 120000\n--- /dev/null\n+++ \"b/\\303\\251\"\n@@ -0,0 +1 @@\n+/etc\n")
	f.Fuzz(func(t *testing.T, diff string) {
		p, err := Parse(diff)
		if err != nil {
			return
		}
		if len(p.Files) == 0 {
			t.Fatal("no files and no error")
		}
		for _, f := range p.Files {
			for _, n := range f.Paths() {
				if n == "" || strings.ContainsAny(n, "\x00\r\n") {
					t.Fatalf("bad path %q", n)
				}
			}
			if f.Git != p.Files[0].Git {
				t.Fatal("mixed formats accepted")
			}
		}
	})
}
