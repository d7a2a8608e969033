package detect

import (
	"strings"
	"testing"
)

// naiveIndex is the meaning of words.index written plainly: the first
// position at or after from where any needle starts, ignoring ASCII case,
// needles tried in list order.
func naiveIndex(w *words, s string, from int) (int, int) {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	lower := string(b)
	for i := from; i < len(s); i++ {
		for _, n := range w.list {
			if strings.HasPrefix(lower[i:], n) {
				return i, len(n)
			}
		}
	}
	return -1, 0
}

func TestWordsIndexMatchesPlainSearch(t *testing.T) {
	for _, s := range []string{
		"", "e", "er", "ERROR", "xError", "IOException: fail", "no errors", "a1b2 TIMED OUT",
		"Fatal Error: panic: boom", "re-try refused", "[ERROR]", "é error", "\xffer\xfferror",
		"processed batch errors=0", "OutOfMemoryError", "oom-kill", "crashloopbackoff",
	} {
		for _, w := range []*words{errorWords, fatalWords, failWords, handledWords} {
			for from := 0; from <= len(s); from++ {
				gi, gn := w.index(s, from)
				wi, wn := naiveIndex(w, s, from)
				if gi != wi || gn != wn {
					t.Errorf("index(%q, %d) = %d,%d; want %d,%d", s, from, gi, gn, wi, wn)
				}
			}
		}
	}
}

func FuzzWordsIndex(f *testing.F) {
	f.Add("Fatal Error: panic: boom", 0)
	f.Fuzz(func(t *testing.T, s string, from int) {
		if from < 0 || from > len(s) {
			return
		}
		gi, gn := errorWords.index(s, from)
		wi, wn := naiveIndex(errorWords, s, from)
		if gi != wi || gn != wn {
			t.Fatalf("index(%q, %d) = %d,%d; want %d,%d", s, from, gi, gn, wi, wn)
		}
	})
}
