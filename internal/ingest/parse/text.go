package parse

import (
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Header recognition works on tokens, not on a list of known formats: a
// header is a run of timestamp parts, numbers, bracketed groups and
// separators, ended by a level word (plus the thread and logger that follow
// it) or by a syslog program tag. Whatever follows is the message.

type tokKind int

const (
	tokOther tokKind = iota
	tokTime
	tokNumber
	tokDash
	tokBracket // [..] or (..) group
	tokLevel
	tokTag // "prog[pid]:" or "logger:"
)

type token struct {
	start, end int
	kind       tokKind
	sev        domain.Severity
}

const maxHeaderTokens = 14

// parseText reads a plain-text line.
func (p *Parser) parseText(line string) domain.Event {
	ev := domain.Event{Format: "text"}
	if sev, msg, ts, ok := parseKlog(line); ok {
		ev.Severity, ev.Message, ev.Time = sev, msg, p.withYear(ts)
		return ev
	}
	if ts, rest, ok := parseJULHeader(line); ok {
		// java.util.logging's first line: the time, then the logger and
		// method; the level and message follow on the next line.
		ev.Time, ev.Message = ts, rest
		if i := strings.LastIndexByte(rest, ' '); i > 0 {
			ev.SourceLocation = &domain.SourceLocation{Function: rest[:i] + "." + rest[i+1:]}
		}
		return ev
	}
	var toks [maxHeaderTokens]token
	n := tokenize(line, toks[:])
	t := toks[:n]
	// "Nov 20 09:00:01": the day after a month name is part of the time.
	for i := 0; i+1 < n; i++ {
		if t[i].kind == tokTime && t[i+1].kind == tokNumber && t[i+1].end-t[i+1].start <= 2 && isLetter(line[t[i].start]) && isMonthName(line[t[i].start:t[i].end]) {
			t[i+1].kind = tokTime
		}
	}

	lastTime := -1
	levelAt := -1
	for i := range t {
		switch t[i].kind {
		case tokTime:
			if levelAt < 0 {
				lastTime = i
			}
		case tokLevel:
			// A one-letter level (Android's "D", "E") is only a level
			// after a timestamp; elsewhere it is a word ("I think...").
			if t[i].end-t[i].start == 1 && (lastTime < 0 || !allHeaderish(t[:i])) {
				t[i].kind = tokOther
				continue
			}
			if levelAt < 0 {
				levelAt = i
			}
		}
	}
	// A capitalised level word ("Info", "Error") right after the timestamp.
	if levelAt < 0 && lastTime >= 0 && lastTime+1 < n {
		tk := &t[lastTime+1]
		w := line[tk.start:tk.end]
		if sev, ok := domain.ParseSeverity(strings.TrimSuffix(w, ",")); ok && !isDigit(w[0]) {
			tk.kind, tk.sev = tokLevel, sev
			levelAt = lastTime + 1
		}
	}
	msgStart := 0
	switch {
	case levelAt >= 0 && (lastTime >= 0 || levelAt == 0 || allHeaderish(t[:levelAt])):
		ev.Severity = t[levelAt].sev
		msgStart = afterLevel(line, t, levelAt)
		// "LEVEL svc[pid]: msg": the program tag names the service (a
		// bare "name:" after the level is a logger or an Android tag).
		var tag, bracket string
		for i := levelAt + 1; i < n && t[i].end <= msgStart; i++ {
			if t[i].kind == tokTag && strings.IndexByte(line[t[i].start:t[i].end], '[') > 0 {
				tag = programName(line[t[i].start:t[i].end])
			}
		}
		// "[checkout] TS LEVEL msg", "TS [checkout] LEVEL msg": a
		// bracketed name before the level.
		for i := 0; i < levelAt && bracket == ""; i++ {
			if t[i].kind == tokBracket {
				bracket = bracketName(line[t[i].start:t[i].end])
			}
		}
		ev.Service = p.pickService(tag, bracket)
	case lastTime >= 0:
		msgStart = t[lastTime].end
		// Skip filler (numbers, brackets, dashes) and a syslog host + tag.
		i := lastTime + 1
		for i < n && (t[i].kind == tokNumber || t[i].kind == tokBracket || t[i].kind == tokDash) {
			msgStart = t[i].end
			i++
		}
		for j := i; j < n && j <= i+1; j++ {
			if t[j].kind == tokTag {
				ev.Service = p.pickService(programName(line[t[j].start:t[j].end]), "")
				msgStart = t[j].end
				break
			}
		}
	}
	ev.Message = strings.TrimLeft(line[msgStart:], " \t")
	accessLogStatus(&ev)
	if ev.Message == "" {
		ev.Message = strings.TrimSpace(line)
	}
	// Timestamps may follow the level ("INFO  [main] 2025-07-22 10:15:44,001").
	lastHeaderTime := -1
	for i := range t {
		if t[i].kind == tokTime && t[i].end <= msgStart {
			lastHeaderTime = i
		}
	}
	if lastHeaderTime >= 0 {
		ev.Time = p.withYear(p.headerTime(line, t, lastHeaderTime))
	}
	return ev
}

// pickService chooses between a header's tag and bracket names by the
// configured order; a kind not configured is not read.
func (p *Parser) pickService(tag, bracket string) string {
	c := p.Config
	if tag != "" && c.uses("tag") && (bracket == "" || !c.uses("bracket") || c.rank("tag") < c.rank("bracket")) {
		return tag
	}
	if bracket != "" && c.uses("bracket") {
		return bracket
	}
	return ""
}

// bracketName reads "[checkout]" as a service name: an identifier that
// starts with a letter, not a level, a time or a thread pool's
// "pool-1-thread-2".
func bracketName(tok string) string {
	if len(tok) < 3 || tok[0] != '[' || tok[len(tok)-1] != ']' {
		return ""
	}
	w := tok[1 : len(tok)-1]
	if len(w) > 48 || !isLetter(w[0]) || domain.IsLevelWord(w) || strings.Contains(w, "thread") || w == "main" {
		return ""
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return ""
		}
	}
	return w
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// withYear gives a timestamp written without a year (BSD syslog's "Nov 20
// 09:00:01", klog's "I1120 ...") the year that puts it nearest before now
// (a day ahead allowed for clocks and zones).
func (p *Parser) withYear(ts time.Time) time.Time {
	if ts.IsZero() || ts.Year() != 0 {
		return ts
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	n := now().UTC()
	t := ts.AddDate(n.Year(), 0, 0)
	if t.After(n.Add(48 * time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t
}

// parseJULHeader reads java.util.logging's first line: "Nov 20, 2026
// 9:00:01 AM org.acme.Foo bar".
func parseJULHeader(line string) (time.Time, string, bool) {
	// "Mon D, YYYY" or "Mon DD, YYYY": the comma is the cheap tell.
	if len(line) < 24 || !isUpperByte(line[0]) || line[3] != ' ' || (line[5] != ',' && line[6] != ',') {
		return time.Time{}, "", false
	}
	// The time ends after "AM " or "PM ".
	i := strings.Index(line, "M ")
	if i < 20 || i > 26 || (line[i-1] != 'A' && line[i-1] != 'P') {
		return time.Time{}, "", false
	}
	ts, err := time.Parse("Jan 2, 2006 3:04:05 PM", line[:i+1])
	if err != nil {
		return time.Time{}, "", false
	}
	return ts.UTC(), line[i+2:], true
}

// julLevels are java.util.logging's level words as its second line opens.
var julLevels = []string{"SEVERE:", "WARNING:", "INFO:", "CONFIG:", "FINE:", "FINER:", "FINEST:"}

// isJULSecondLine reports "SEVERE: message".
func isJULSecondLine(line string) bool {
	if line == "" || strings.IndexByte("SWICF", line[0]) < 0 {
		return false
	}
	for _, l := range julLevels {
		if strings.HasPrefix(line, l) {
			return true
		}
	}
	return false
}

func allHeaderish(t []token) bool {
	for _, tk := range t {
		if tk.kind == tokOther || tk.kind == tokTag {
			return false
		}
	}
	return true
}

// afterLevel finds where the message starts after the level token: thread
// brackets, a dash separator and one logger name may follow.
func afterLevel(line string, t []token, levelAt int) int {
	pos := t[levelAt].end
	i := levelAt + 1
	// A bare number after the level is the message's ("INFO 199680
	// double-hummer alignment exceptions"), even one long enough to pass
	// for epoch seconds.
	for i < len(t) && (t[i].kind == tokBracket || t[i].kind == tokDash || t[i].kind == tokTime && !isNumberWord(line[t[i].start:t[i].end])) {
		pos = t[i].end
		i++
	}
	if i < len(t) {
		w := line[t[i].start:t[i].end]
		switch {
		case t[i].kind == tokTag && !messageWord(w):
			pos = t[i].end
		case isLoggerName(w):
			// "org.foo.Bar -", "Foo.java:12 -", "org.foo.Bar" then message.
			pos = t[i].end
			i++
			if i < len(t) && (t[i].kind == tokDash || line[t[i].start:t[i].end] == ":") {
				pos = t[i].end
			}
		case t[i].kind == tokNumber && strings.HasSuffix(w, ":"):
			pos = t[i].end // nginx "29060#29060:"
		case i+1 < len(t) && t[i+1].start-t[i].end >= 2 && isColumnWord(w):
			// A component name in an aligned column ("Info   CBS    Loaded
			// ..."): padding after one word marks a header field.
			pos = t[i].end
		}
	}
	return pos
}

// messageWord reports a lower-case word ending in ':' ("panic:", "x509:",
// "dial:"): the message's first word, not a logger or program tag (those
// carry a pid, a dot, a slash or capitals).
func messageWord(w string) bool {
	for i := 0; i < len(w)-1; i++ {
		if c := w[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isLoggerName: a dotted identifier (with at least two dots, or a file:line).
// isColumnWord is a short identifier: letters, digits, '_' and '-'.
func isColumnWord(w string) bool {
	if len(w) == 0 || len(w) > 32 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLoggerName(w string) bool {
	w = strings.TrimSuffix(w, ":")
	dots := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '.':
			dots++
		case isAlnum(c) || c == '_' || c == '$' || c == ':' || c == '-':
		default:
			return false
		}
	}
	return dots >= 2 || (dots == 1 && strings.Contains(w, ":") && isDigit(w[len(w)-1]))
}

func programName(tag string) string {
	tag = strings.TrimSuffix(tag, ":")
	for i := 1; i < len(tag); i++ {
		if tag[i] == '[' || tag[i] == '(' {
			return tag[:i]
		}
	}
	return tag
}

// tokenize splits the start of a line into header tokens; bracketed groups
// are one token even when they hold spaces.
func tokenize(line string, out []token) int {
	n := 0
	i := 0
	for n < len(out) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		start := i
		if c := line[i]; c == '[' || c == '(' || c == '<' {
			end := matchBracket(line, i)
			if end > 0 {
				out[n] = classifyBracket(line, start, end)
				n++
				i = end
				continue
			}
		}
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		out[n] = classify(line, start, i)
		n++
	}
	return n
}

func matchBracket(s string, i int) int {
	open := s[i]
	var close byte = ']'
	switch open {
	case '(':
		close = ')'
	case '<':
		close = '>'
	}
	depth := 0
	for j := i; j < len(s) && j < i+256; j++ {
		switch s[j] {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				end := j + 1
				// "[pid]:" style suffixes stay with the group.
				for end < len(s) && s[end] != ' ' && s[end] != '\t' {
					end++
				}
				return end
			}
		}
	}
	return -1
}

func classifyBracket(line string, start, end int) token {
	inner := trimRight(line[start+1:end], ":]>)")
	tk := token{start: start, end: end, kind: tokBracket}
	// [error], [core:error], <warn>
	if len(inner) <= 24 {
		for p := 0; p < len(inner); {
			q := p
			for q < len(inner) && inner[q] != ':' && inner[q] != ' ' && inner[q] != '|' {
				q++
			}
			if part := inner[p:q]; len(part) > 1 && !isDigit(part[0]) {
				if sev, ok := domain.ParseSeverity(part); ok {
					tk.kind, tk.sev = tokLevel, sev
					return tk
				}
			}
			p = q + 1
		}
	}
	// [10/Oct/2000:13:55:36 -0700], [Fri Sep 09 10:42:29.902022 2011]
	if len(inner) > 0 && len(inner) <= 40 && (isDigit(inner[0]) || isUpperByte(inner[0])) {
		words, times := 0, 0
		for p := 0; p < len(inner); {
			for p < len(inner) && inner[p] == ' ' {
				p++
			}
			q := p
			for q < len(inner) && inner[q] != ' ' {
				q++
			}
			if q > p {
				words++
				if isTimeWord(inner[p:q]) {
					times++
				}
			}
			p = q
		}
		if times*2 >= words && times > 0 {
			tk.kind = tokTime
		}
	}
	return tk
}

func classify(line string, start, end int) token {
	w := line[start:end]
	tk := token{start: start, end: end}
	switch {
	case w == "-" || w == "|" || w == ":" || w == "--":
		tk.kind = tokDash
	case isTimeWord(w):
		tk.kind = tokTime
	case isNumberWord(w):
		tk.kind = tokNumber
	default:
		if lv := trimRight(w, ":,"); len(lv) > 1 {
			if domain.IsLevelWord(lv) {
				sev, _ := domain.ParseSeverity(lv)
				tk.kind, tk.sev = tokLevel, sev
				return tk
			}
			// Python's default "ERROR:root:message" and "E/Tag" forms.
			if i := strings.IndexAny(lv, ":/"); i > 1 && domain.IsLevelWord(lv[:i]) {
				sev, _ := domain.ParseSeverity(lv[:i])
				tk.kind, tk.sev = tokLevel, sev
				tk.end = start + i + 1
				// "ERROR:root:msg": the logger name goes with the level.
				if j := strings.IndexByte(w[i+1:], ':'); j > 0 && isLoggerish(w[i+1:i+1+j]) {
					tk.end += j + 1
				}
				return tk
			}
		}
		if len(w) == 1 {
			// Android's one-letter level.
			if sev, ok := letterSeverity(w[0]); ok {
				tk.kind, tk.sev = tokLevel, sev
				return tk
			}
		}
		if isTag(w) {
			tk.kind = tokTag
		}
	}
	return tk
}

// isTag matches "sshd[123]:", "crond(pam_unix)[2915]:", "kernel:".
func isTag(w string) bool {
	if len(w) < 2 || w[len(w)-1] != ':' {
		return false
	}
	for i := 0; i < len(w)-1; i++ {
		c := w[i]
		if !(isAlnum(c) || strings.IndexByte("_-./$[]()@", c) >= 0) {
			return false
		}
	}
	return true
}

// monthOrDay reports whether the lower-case w abbreviates a month or a
// weekday or names a zone or half of the day. A switch, not a map: it runs
// on most header words and is compiled to compares, without hashing.
func monthOrDay(w string) bool {
	switch w {
	case "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
		"mon", "tue", "wed", "thu", "fri", "sat", "sun", "utc", "gmt", "am", "pm":
		return true
	}
	return false
}

// isTimeWord recognises the parts timestamps are written in: dates, clock
// times, epoch seconds, month and weekday names, zone offsets.
// trimRight is strings.TrimRight for a cutset of a few ASCII bytes,
// without building a set per call: the tokenizer calls it on every word.
func trimRight(s, cutset string) string {
	for len(s) > 0 && strings.IndexByte(cutset, s[len(s)-1]) >= 0 {
		s = s[:len(s)-1]
	}
	return s
}

func isTimeWord(w string) bool {
	w = trimRight(w, ",]")
	for len(w) > 0 && w[0] == '[' {
		w = w[1:]
	}
	if w == "" {
		return false
	}
	if !isDigit(w[0]) {
		// Only names (months, weekdays, zones) and dates like 21-Jul-2025
		// start with a letter.
		var buf [9]byte
		if len(w) <= len(buf) {
			lw := buf[:len(w)]
			for i := 0; i < len(w); i++ {
				lw[i] = lowerByte(w[i])
			}
			if monthOrDay(string(lw)) || (len(lw) > 3 && monthOrDay(string(lw[:3])) && isMonthOrDayName(string(lw))) {
				return true
			}
		}
		if w[0] != '+' && w[0] != '-' {
			return false
		}
	}
	digits, letters, seps := 0, 0, 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case isDigit(c):
			digits++
		case c == '-' || c == '/' || c == ':' || c == '.' || c == ',' || c == '+':
			seps++
		case c == 'T' || c == 'Z':
			letters++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters += 10 // any other letter: only month names embedded
		default:
			return false
		}
	}
	if letters >= 10 {
		// 21-Jul-2025, 10/Oct/2000:13:55:36
		for p := 0; p < len(w); {
			q := p
			for q < len(w) && w[q] != '-' && w[q] != '/' && w[q] != ':' {
				q++
			}
			if q-p == 3 {
				lw := [3]byte{lowerByte(w[p]), lowerByte(w[p+1]), lowerByte(w[p+2])}
				if monthOrDay(string(lw[:])) {
					return digits >= 4
				}
			}
			p = q + 1
		}
		return false
	}
	if seps == 0 {
		return digits >= 6 && digits <= 19 // 081109, 203615, epoch
	}
	if w[0] == '+' || w[0] == '-' {
		return digits == 4 && len(w) == 5 // zone offset
	}
	return digits >= 4 && digits+seps+letters == len(w) && hasTimeShape(w)
}

// isMonthName: "Nov", "nov", "November".
func isMonthName(w string) bool {
	if len(w) < 3 {
		return false
	}
	switch string([]byte{lowerByte(w[0]), lowerByte(w[1]), lowerByte(w[2])}) {
	case "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec":
		return true
	}
	return false
}

func isMonthOrDayName(w string) bool {
	for _, name := range []string{"january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		if w == name {
			return true
		}
	}
	return false
}

// hasTimeShape rejects version numbers and addresses: a date has - or /
// separators, a clock time has ':'; dotted forms need a 4-digit year.
func hasTimeShape(w string) bool {
	if strings.ContainsAny(w, "-/:") {
		// Date and clock groups are 1 to 4 digits (fractions aside).
		groups := 0
		for p := 0; p < len(w); {
			q := p
			for q < len(w) && w[q] != '-' && w[q] != '/' && w[q] != ':' && w[q] != 'T' {
				q++
			}
			if q > p {
				g := strings.TrimRight(w[p:q], "Z")
				if i := strings.IndexAny(g, ".,"); i >= 0 {
					g = g[:i]
				}
				if len(g) < 1 || len(g) > 4 {
					return false
				}
				groups++
			}
			p = q + 1
		}
		return groups >= 2
	}
	// 2005.06.03
	parts := strings.Split(w, ".")
	return len(parts) == 3 && len(parts[0]) == 4 && len(parts[1]) == 2 && len(parts[2]) == 2
}

// isNumberWord: digits (a leading sign or '#' allowed), as header fields
// such as a pid, a counter or a "-1" flag are written.
func isNumberWord(w string) bool {
	for len(w) > 0 && (w[len(w)-1] == ':' || w[len(w)-1] == ',') {
		w = w[:len(w)-1]
	}
	if len(w) > 1 && w[0] == '-' {
		w = w[1:]
	}
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !isDigit(c) && c != '#' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseKlog reads klog/glog headers: "E0517 15:04:22.619632 1952452992
// file.cc:253] msg". The time has no year (withYear gives it one).
func parseKlog(line string) (domain.Severity, string, time.Time, bool) {
	if len(line) < 22 || strings.IndexByte("IWEF", line[0]) < 0 || !isDigit(line[1]) || !isDigit(line[4]) || line[5] != ' ' {
		return 0, "", time.Time{}, false
	}
	end := strings.Index(line, "] ")
	if end < 0 || end > 120 {
		return 0, "", time.Time{}, false
	}
	sev, _ := letterSeverity(line[0])
	var ts time.Time
	if sp := strings.IndexByte(line[6:], ' '); sp > 0 {
		if t, err := time.Parse("0102 15:04:05.999999", line[1:5]+" "+line[6:6+sp]); err == nil {
			ts = t.AddDate(-t.Year(), 0, 0) // year 0: unknown
		}
	}
	return sev, line[end+2:], ts, true
}

var headerLayouts = []string{
	"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05,999999999", "2006/01/02 15:04:05.999999999",
	"02/Jan/2006:15:04:05 -0700", "Mon Jan 02 15:04:05.999999999 2006", "02-Jan-2006 15:04:05.999999999",
	"06/01/02 15:04:05", "060102 150405", "Jan _2 15:04:05", "Jan 2 15:04:05", "01-02 15:04:05.999999999",
	"2006-01-02-15.04.05.999999", "2006-01-02 15:04:05",
}

// Layout numbers beyond headerLayouts: RFC 3339 or epoch, and "none".
const (
	layoutGeneric = -1
	layoutNone    = -2
	maxTimeHints  = 256
)

// timeHint says which tokens of a header's time run hold the timestamp
// (offsets from the run's first token) and which layout reads them.
type timeHint struct{ from, to, layout int }

// headerTime parses the header's timestamp, best effort: an unknown layout
// leaves the time zero rather than failing the line. Finding the layout
// means trying many (and a failed time.Parse allocates), so the answer is
// remembered per timestamp shape: a stream keeps
// its format, and each later line costs one map lookup and one parse.
func (p *Parser) headerTime(line string, t []token, lastTime int) time.Time {
	first := -1
	for i := 0; i <= lastTime; i++ {
		if t[i].kind == tokTime {
			first = i
			break
		}
	}
	if first < 0 {
		return time.Time{}
	}
	// The shape: each time token with digits as 0 and letters as a, each
	// other token (host, pid, component) as one placeholder, so that one
	// format gives one shape however its hosts are named.
	var sig [96]byte
	n, cacheable := 0, true
	for i := first; i <= lastTime && cacheable; i++ {
		if t[i].kind != tokTime {
			if n < len(sig) {
				sig[n] = '_'
				n++
			}
			continue
		}
		w := line[t[i].start:t[i].end]
		if n+len(w)+1 > len(sig) {
			cacheable = false
			break
		}
		for j := 0; j < len(w); j++ {
			c := w[j]
			switch {
			case isDigit(c):
				c = '0'
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				c = 'a'
			}
			sig[n] = c
			n++
		}
		sig[n] = ' '
		n++
	}
	if cacheable {
		if h, ok := p.timeHints[string(sig[:n])]; ok {
			if h.layout == layoutNone {
				return time.Time{}
			}
			ts, _ := parseHeaderTime(timeText(line, t, first+h.from, first+h.to), h.layout)
			return ts
		}
	}
	ts, h := searchHeaderTime(line, t, first, lastTime)
	if cacheable {
		if p.timeHints == nil || len(p.timeHints) >= maxTimeHints {
			p.timeHints = make(map[string]timeHint)
		}
		p.timeHints[string(sig[:n])] = h
	}
	return ts
}

func timeText(line string, t []token, from, to int) string {
	return strings.Trim(line[t[from].start:t[to].end], "[], ")
}

// searchHeaderTime tries each run of adjacent time tokens: the whole run,
// then shorter runs, then single tokens, against every layout.
func searchHeaderTime(line string, t []token, first, lastTime int) (time.Time, timeHint) {
	for i := first; i <= lastTime; i++ {
		if t[i].kind != tokTime {
			continue
		}
		j := i
		for j+1 <= lastTime && t[j+1].kind == tokTime {
			j++
		}
		for end := j; end >= i; end-- {
			for start := i; start <= end; start++ {
				s := timeText(line, t, start, end)
				for layout := layoutGeneric; layout < len(headerLayouts); layout++ {
					if ts, ok := parseHeaderTime(s, layout); ok {
						return ts, timeHint{from: start - first, to: end - first, layout: layout}
					}
				}
			}
		}
		i = j
	}
	return time.Time{}, timeHint{layout: layoutNone}
}

// parseHeaderTime reads s with one layout: an index into headerLayouts, or
// layoutGeneric for RFC 3339 and epoch seconds or milliseconds.
func parseHeaderTime(s string, layout int) (time.Time, bool) {
	if layout >= 0 {
		ts, err := time.Parse(headerLayouts[layout], s)
		return ts.UTC(), err == nil
	}
	if strings.Contains(s, "T") {
		if ts := parseTime(s); !ts.IsZero() {
			return ts, true
		}
	}
	if n := len(s); (n == 10 || n == 13) && isNumberWord(s) {
		ts := parseEpoch(s)
		return ts, !ts.IsZero()
	}
	return time.Time{}, false
}

func isLoggerish(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; !(isAlnum(c) || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// accessLogStatus reads the status of a common/combined access-log line
// ("GET /x HTTP/1.1" 503 12 ...): a 5xx response is an error.
func accessLogStatus(ev *domain.Event) {
	m := ev.Message
	if len(m) < 10 || m[0] != '"' {
		return
	}
	end := strings.IndexByte(m[1:], '"')
	if end < 0 || !strings.Contains(m[1:end+1], " HTTP/") {
		return
	}
	rest := m[end+2:]
	if len(rest) < 4 || rest[0] != ' ' || !isDigit(rest[1]) || !isDigit(rest[2]) || !isDigit(rest[3]) {
		return
	}
	ev.HTTPStatus = int(rest[1]-'0')*100 + int(rest[2]-'0')*10 + int(rest[3]-'0')
	if ev.HTTPStatus >= 500 && ev.Severity < domain.Error {
		ev.Severity = domain.Error
	}
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isUpperByte(c byte) bool { return c >= 'A' && c <= 'Z' }

func letterSeverity(c byte) (domain.Severity, bool) {
	switch c {
	case 'V', 'D':
		return domain.Debug, true
	case 'I':
		return domain.Info, true
	case 'W':
		return domain.Warning, true
	case 'E':
		return domain.Error, true
	case 'F':
		return domain.Critical, true
	}
	return domain.Default, false
}
