package template

import "strings"

// segments walks a token piece by piece: a delimiter byte, or a segment
// between delimiters. A double-quoted run is one segment (a string value,
// variable), whatever it holds.
type segments struct {
	s       string
	i       int
	closing int // index of the quote that closes an open quoted run, or -1
	quoted  bool
}

func newSegments(s string) segments { return segments{s: s, closing: -1} }

// next returns the next piece: a delimiter (delim != 0) or a segment.
func (it *segments) next() (seg string, delim byte, variable bool, ok bool) {
	if it.i >= len(it.s) {
		return "", 0, false, false
	}
	c := it.s[it.i]
	if c == '[' {
		if n := markerLen(it.s[it.i:]); n > 0 {
			// A redaction marker stands where a value was: one variable,
			// so a redacted line groups with its unredacted siblings.
			seg = it.s[it.i : it.i+n]
			it.i += n
			return seg, 0, true, true
		}
	}
	if isDelim(c) {
		if c == '"' {
			if it.closing == it.i {
				it.closing = -1
			} else if k := strings.IndexByte(it.s[it.i+1:], '"'); k >= 0 {
				it.closing = it.i + 1 + k
				it.quoted = true
			}
		}
		it.i++
		return "", c, false, true
	}
	if it.quoted && it.closing > it.i {
		seg = it.s[it.i:it.closing]
		it.i = it.closing
		it.quoted = false
		return seg, 0, true, true
	}
	j := it.i
	for j < len(it.s) && !isDelim(it.s[j]) {
		j++
	}
	seg = it.s[it.i:j]
	it.i = j
	return seg, 0, segmentVariable(seg), true
}

// markerPrefix opens the redactor's markers ("[REDACTED:ipv4]").
const markerPrefix = "[REDACTED:"

// markerLen is the length of the redaction marker s starts with, or 0.
func markerLen(s string) int {
	if !strings.HasPrefix(s, markerPrefix) {
		return 0
	}
	for i := len(markerPrefix); i < len(s) && i < 48; i++ {
		switch c := s[i]; {
		case c == ']':
			if i == len(markerPrefix) {
				return 0
			}
			return i + 1
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return 0
		}
	}
	return 0
}

// templateSegments walks a template token the same way, with "<*>" as one
// variable segment.
type templateSegments struct {
	s string
	i int
}

func (it *templateSegments) next() (seg string, delim byte, variable bool, ok bool) {
	if it.i >= len(it.s) {
		return "", 0, false, false
	}
	if strings.HasPrefix(it.s[it.i:], Wildcard) {
		it.i += len(Wildcard)
		return Wildcard, 0, true, true
	}
	c := it.s[it.i]
	if isDelim(c) {
		it.i++
		return "", c, false, true
	}
	j := it.i
	for j < len(it.s) && !isDelim(it.s[j]) && !strings.HasPrefix(it.s[j:], Wildcard) {
		j++
	}
	seg = it.s[it.i:j]
	it.i = j
	return seg, 0, false, true
}

// wordConflict reports a position where the template and the line hold
// different words: a sign of a different event rather than of a variable
// (variables are numbers, identifiers, hosts, paths; a word is a state or
// an action). Names that do vary are merged later, by mergeSiblings.
func wordConflict(tmpl []string, toks []maskedToken) bool {
	for i, t := range tmpl {
		if t == Wildcard || toks[i].whole || toks[i].matches(t) {
			continue
		}
		if isStatusClass(t) || isStatusClass(toks[i].raw) {
			return true // "2xx" and "5xx" responses are different events
		}
		if tokenConflict(t, toks[i].raw) {
			return true
		}
	}
	return false
}

func tokenConflict(tmpl, raw string) bool {
	ti := templateSegments{s: tmpl}
	ri := newSegments(raw)
	conflict := false
	for {
		ts, td, tv, tok := ti.next()
		rs, rd, rv, rok := ri.next()
		if !tok || !rok {
			return conflict
		}
		if td != 0 || rd != 0 {
			if td != rd {
				// Different structure ("(uid=0)" and "LOGIN(uid=0)"): a
				// conflict when both are made of words, not names.
				return conflict || (structuredWord(tmpl) && structuredWord(raw))
			}
			continue
		}
		if tv || rv || ts == rs {
			continue
		}
		if plainWord(ts) && plainWord(rs) {
			conflict = true
		}
	}
}

// structuredWord: has a letter and no inner dot, slash or '@'.
func structuredWord(t string) bool {
	letters := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		case c == '.' && i < len(t)-1, c == '/', c == '@':
			return false
		}
	}
	return letters > 0
}

// plainWord is a structured word (names of hosts, classes and paths, with
// inner dots or slashes, vary like values) that is not part of a template's
// wildcard, holds fewer than two digits (a name with a number,
// "bglio559", "storage1231", is an entity: it varies like a value; "eth0"
// or "alt0" may name a kind) and is not a day or month name.
func plainWord(t string) bool {
	return structuredWord(t) && strings.IndexByte(t, '*') < 0 && digits(t) < 2 && !isTemporalName(strings.TrimSuffix(t, "."))
}

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

var temporalNames = map[string]bool{}

func init() {
	for _, n := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
		"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
		"january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december"} {
		temporalNames[n] = true
	}
}

func isTemporalName(t string) bool {
	if len(t) < 3 || len(t) > 9 {
		return false
	}
	var buf [9]byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return temporalNames[string(buf[:len(t)])]
}

func isStatusClass(t string) bool { return len(t) == 3 && t[1:] == "xx" && t[0] >= '1' && t[0] <= '5' }
