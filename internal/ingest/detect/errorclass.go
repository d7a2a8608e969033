package detect

import (
	"math/bits"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
)

// isContinuation reports a line that continues an earlier one (a stack
// frame, a "Caused by", a goroutine header) when it arrives on its own:
// it belongs to the error above it and never opens an incident itself.
func isContinuation(msg string) bool {
	if msg == "" {
		return false
	}
	if msg[0] == ' ' || msg[0] == '\t' {
		return true
	}
	for _, p := range continuationPrefixes {
		if len(msg) >= len(p) && msg[:len(p)] == p {
			return true
		}
	}
	return parse.IsGoFrame(msg)
}

// isDump reports a line that prints a value of a machine's state (a
// register dump: "instruction address: 0x00004ed8", "machine check:
// i-fetch......0"): detail of the event it follows, which never opens an
// incident of its own.
func isDump(msg string) bool {
	msg = strings.TrimRight(msg, " ")
	// "label.......value", "label touch.0": a word, dot leaders, then one
	// short value of digits.
	if i := strings.LastIndexByte(msg, '.'); i > 0 && i < len(msg)-1 && len(msg)-i <= 19 {
		j := i
		for j > 0 && msg[j-1] == '.' {
			j--
		}
		v := msg[i+1:]
		dots := i - j + 1
		if j > 0 && strings.IndexByte(msg[:j], ' ') > 0 && isHexNumber(v) &&
			(isLetter(msg[j-1]) && (dots > 1 || len(v) == 1) || dots >= 3 && (msg[j-1] == ' ' || msg[j-1] == ')')) {
			return true
		}
	}
	i := strings.LastIndex(msg, ": 0x")
	if i <= 0 || failWords.in(msg[:i]) {
		return false
	}
	for _, c := range []byte(msg[i+4:]) {
		if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
			return false
		}
	}
	return len(msg) > i+4
}

// namesException reports an exception class in the text
// ("java.io.IOException", "NullPointerException", "ValueError"): a word
// that ends in Exception or Error and has a capital or a dot before it.
func namesException(msg string) bool {
	for from := 0; from < len(msg); {
		i := strings.Index(msg[from:], "Exception")
		n := len("Exception")
		if j := strings.Index(msg[from:], "Error"); j >= 0 && (i < 0 || j < i) {
			i, n = j, len("Error")
		}
		if i < 0 {
			return false
		}
		i += from
		start := i
		for start > 0 && (isLetter(msg[start-1]) || isDigitByte(msg[start-1]) || msg[start-1] == '.' || msg[start-1] == '$' || msg[start-1] == '_') {
			start--
		}
		if w := msg[start:i]; w != "" && (w[0] >= 'A' && w[0] <= 'Z' || strings.Contains(w, ".")) {
			return true
		}
		from = i + n
	}
	return false
}

// failWords in a dump's label make it a failure report ("failed with
// code: 0x80070005"), not a register's value.
var failWords = newWords("fail", "error", "refused", "denied", "abort", "timeout", "timed out")

func isHexNumber(s string) bool {
	s = strings.TrimPrefix(s, "0x")
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
			return false
		}
	}
	return s != ""
}

var continuationPrefixes = []string{"at ", "Caused by:", "... ", "File \"", "created by ", "Suppressed: "}

// errorWords mark an event as error-class when its level does not say so
// (INFO lines that report an exception, untagged text).
var errorWords = newWords("exception", "error", "fail", "fatal", "panic", "refused", "denied", "timeout", "timed out", "unreachable", "corrupt", "abort", "killed", "crash", "segfault", "traceback")

// IsError reports whether an event is error-class: ERROR or worse, or a
// lower level whose text reports a failure.
func IsError(ev *domain.Event) bool {
	if ev.Severity >= domain.Error {
		return true
	}
	if ev.Severity == domain.Debug {
		return false
	}
	if ev.Stack != "" {
		return true
	}
	return reportsFailure(ev.Message)
}

// reportsFailure reads a line below ERROR the way a person would: an
// error word counts unless its context says there was none ("errors=0",
// "error": null, "no error", "0 failures", a timeout setting) or that it
// was dealt with ("error(s) detected and corrected"). It scans in place,
// without allocating: it runs on every line.
func reportsFailure(msg string) bool {
	for from := 0; from < len(msg); {
		at, n := errorWords.index(msg, from)
		if at < 0 {
			return false
		}
		if !neutral(msg, at, at+n) {
			return true
		}
		from = at + n
	}
	return false
}

// neutral reports whether the error word at msg[a:b] says there was no
// failure, or that it was handled.
func neutral(msg string, a, b int) bool {
	// The whole word: "errors", "error(s)", "failures", "failed".
	e := b
	for e < len(msg) && isLetter(msg[e]) {
		e++
	}
	if strings.HasPrefix(msg[e:], "(s)") {
		e += 3
	}
	// Before: "no error", "0 errors", "without failures".
	if p := a; p > 0 && msg[p-1] == ' ' {
		for p > 0 && msg[p-1] == ' ' {
			p--
		}
		q := p
		for q > 0 && (isLetter(msg[q-1]) || isDigitByte(msg[q-1])) {
			q--
		}
		switch w := msg[q:p]; {
		case w == "0", strings.EqualFold(w, "no"), strings.EqualFold(w, "zero"), strings.EqualFold(w, "without"):
			return true
		}
	}
	// After: a field that says none, or a timeout setting.
	i := e
	for i < len(msg) && (msg[i] == '"' || msg[i] == '\'' || msg[i] == '_' || isLetter(msg[i])) {
		i++
	}
	for i < len(msg) && msg[i] == ' ' {
		i++
	}
	if i < len(msg) && (msg[i] == '=' || msg[i] == ':') {
		i++
		if i < len(msg) && msg[i] == '=' {
			i++
		}
		for i < len(msg) && msg[i] == ' ' {
			i++
		}
		v := msg[i:]
		if (msg[a]|0x20) == 't' && len(v) > 0 && isDigitByte(v[0]) { // timeout: a setting
			return true
		}
		for _, none := range noneValues {
			if len(v) >= len(none) && strings.EqualFold(v[:len(none)], none) &&
				(len(v) == len(none) || !isLetter(v[len(none)]) && !isDigitByte(v[len(none)])) {
				return true
			}
		}
	}
	// Handled: "error(s) detected and corrected" within the clause.
	rest := msg[e:min(len(msg), e+48)]
	if k := strings.IndexAny(rest, ".;"); k >= 0 {
		rest = rest[:k]
	}
	return handledWords.in(rest)
}

var noneValues = []string{"0", "null", "nil", "none", "false", `""`, "''", "[]", "{}", "<nil>"}

var handledWords = newWords("corrected", "recovered", "succeeded", "resolved", "cleared")

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

var fatalWords = newWords("panic:", "fatal error", "outofmemoryerror", "out of memory", "segmentation fault", "sigsegv", "core dumped", "oom-kill", "killed process", "crashloopbackoff", "stack overflow", "uncaught exception", "unhandled exception", "exception in thread", "traceback (most recent call last)")

// IsFatal reports a crash signature: panic, uncaught exception, segfault,
// an OOM kill, in the line or the head of its stack. A CRITICAL level alone
// is not one (see Config.CriticalRecur).
func IsFatal(ev *domain.Event) bool {
	return fatalWords.in(ev.Message) || (ev.Stack != "" && fatalWords.in(firstLines(ev.Stack, 3)))
}

func firstLines(s string, n int) string {
	i := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			return s
		}
		i += j + 1
	}
	return s[:i]
}

// words are lower-case needles searched case-insensitively, without
// allocating a lowered copy of the haystack. Every needle starts with two
// letters; a table of those pairs, built once, names the needles worth
// comparing at a position, so most positions cost one lookup.
type words struct {
	list []string
	pair [26][26]uint32 // bit k: list[k] starts with this pair
}

func newWords(list ...string) *words {
	if len(list) > 32 {
		panic("detect: more than 32 words in one set")
	}
	w := &words{list: list}
	for k, n := range list {
		a, okA := letter(n[0])
		b, okB := letter(n[1])
		if !okA || !okB {
			panic("detect: word " + n + " does not start with two letters")
		}
		w.pair[a][b] |= 1 << k
	}
	return w
}

// letter is c's place in the alphabet, either case.
func letter(c byte) (int, bool) {
	c |= 0x20
	return int(c - 'a'), c >= 'a' && c <= 'z'
}

// index is the first match at or after from: its position and length, or
// -1. At one position the needles are tried in list order.
func (w *words) index(s string, from int) (int, int) {
	for i := from; i+1 < len(s); i++ {
		a, ok := letter(s[i])
		if !ok {
			continue
		}
		b, ok := letter(s[i+1])
		if !ok {
			i++ // s[i+1] starts no needle either
			continue
		}
		for m := w.pair[a][b]; m != 0; m &= m - 1 {
			n := w.list[bits.TrailingZeros32(m)]
			if len(s)-i >= len(n) && foldedPrefix(s[i+2:], n[2:]) {
				return i, len(n)
			}
		}
	}
	return -1, 0
}

// foldedPrefix reports whether s starts with the lower-case needle n,
// ignoring the case of s.
func foldedPrefix(s, n string) bool {
	for j := 0; j < len(n); j++ {
		b := s[j]
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != n[j] {
			return false
		}
	}
	return true
}

func (w *words) in(s string) bool {
	i, _ := w.index(s, 0)
	return i >= 0
}
