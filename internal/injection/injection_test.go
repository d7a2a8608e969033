package injection

import "testing"

// Ordinary error lines must not be flagged.
var Clean = []string{
	`ERROR dial tcp 10.0.0.7:5432: connect: connection refused`,
	`ERROR upstream request timeout after 3000 ms`,
	`WARN token bucket refilled for client 42`,
	`ERROR failed to read config: open /etc/app/config.yaml: no such file or directory`,
	`java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null`,
}

func TestCorpusIsFlagged(t *testing.T) {
	for _, l := range Corpus {
		if f := Scan(l); len(f) == 0 {
			t.Errorf("not flagged: %s", l)
		}
	}
	for _, l := range Clean {
		if f := Scan(l); len(f) != 0 {
			t.Errorf("ordinary line flagged %v: %s", f, l)
		}
	}
}

func FuzzScan(f *testing.F) {
	for _, l := range Corpus {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fd := range Scan(s) {
			if fd.Rule == "" || len(fd.Excerpt) > 84 {
				t.Fatalf("bad finding %+v", fd)
			}
		}
	})
}
