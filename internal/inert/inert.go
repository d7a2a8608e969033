// Package inert renders untrusted text (log lines, service names, labels,
// model prose) so that it is shown and never acted on. For Markdown (pull
// and merge requests, comments, reports): HTML is escaped; mentions and
// issue references of GitHub and GitLab are broken; links and images stay
// live only to the configured hosts, other URLs are shown defanged; no
// line can start a heading, list, quote, table, fence or slash command;
// and length is bounded. For a terminal: control characters are shown as
// escapes, so a log line cannot move the cursor or retitle the window.
package inert

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Markdown renders untrusted text for Markdown. The zero value allows no
// links.
type Markdown struct {
	// Hosts are the hosts links and images may point to (the repository's
	// own host, the log console); matched exactly, case-insensitively.
	Hosts []string
}

// Default length bounds, in characters.
const (
	MaxText = 4000
	MaxLine = 300
)

// Text renders prose that may span lines.
func (m Markdown) Text(s string) string {
	s = clean(s, MaxText)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = m.line(strings.TrimLeft(l, " \t"))
	}
	return strings.Join(lines, "\n")
}

// Line renders text that must stay on one line and inside one table
// cell: a title, a heading, a list item, a cell.
func (m Markdown) Line(s string) string {
	s = clean(s, MaxLine)
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(m.line(s), "|", `\|`)
}

var (
	mdLink  = regexp.MustCompile(`(!?)\[([^\[\]\n]{0,300})\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"\n]{0,200}")?\s*\)`)
	bareURL = regexp.MustCompile(`(?i)\b(?:(?:https?|ftps?|file|javascript|data|vbscript|mailto|ssh|git):[^\s<>()\[\]{}"'` + "`" + `]+|www\.[^\s<>()\[\]{}"'` + "`" + `]+)`)
	// A line that Markdown would read as a block (heading, quote, list,
	// rule, table, fence, setext underline) or a chat/CI bot would read as
	// a command.
	blockStart = regexp.MustCompile(`^(?:[#>+*=|~/:!-]|[0-9]{1,9}[.)])`)
)

// line renders one line: links first, then the plain text between them.
func (m Markdown) line(s string) string {
	var b strings.Builder
	// write joins the pieces: a sigil ending one piece and a word starting
	// the next would make a mention or reference across the seam ("@" then
	// a defanged "http[:]..."), so the seam gets the zero-width space
	// plain gives within a piece.
	write := func(p string) {
		if n := b.Len(); n > 0 && p != "" && strings.IndexByte(sigils, b.String()[n-1]) >= 0 {
			if r, _ := utf8.DecodeRuneInString(p); r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) {
				b.WriteString("\u200b")
			}
		}
		b.WriteString(p)
	}
	rest := s
	for rest != "" {
		loc, isLink := nextLink(rest)
		if loc == nil {
			write(plain(rest))
			break
		}
		write(plain(rest[:loc[0]]))
		tok := rest[loc[0]:loc[1]]
		if isLink {
			sub := mdLink.FindStringSubmatch(tok)
			if u, ok := m.allowed(sub[3]); ok {
				write(sub[1] + "[" + plain(sub[2]) + "](" + u + ")")
			} else {
				write(plain(sub[2]) + " (" + defang(sub[3]) + ")")
			}
		} else if u, ok := m.allowed(tok); ok {
			write(u)
		} else {
			write(defang(tok))
		}
		rest = rest[loc[1]:]
	}
	out := b.String()
	if blockStart.MatchString(out) {
		out = `\` + out
	}
	return out
}

func nextLink(s string) ([]int, bool) {
	a := mdLink.FindStringIndex(s)
	u := bareURL.FindStringIndex(s)
	switch {
	case a == nil:
		return u, false
	case u == nil || a[0] <= u[0]:
		return a, true
	}
	return u, false
}

// allowed returns the URL, percent-encoded where Markdown would end it,
// when it is http(s) to an allowed host.
func (m Markdown) allowed(raw string) (string, bool) {
	if len(m.Hosts) == 0 {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if !slices.ContainsFunc(m.Hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		return "", false
	}
	// With no user part, an @ can only be in the path, query or fragment,
	// where %40 means the same and no renderer reads a mention in it.
	return strings.ReplaceAll(u.String(), "@", "%40"), true
}

// defang shows a URL as text no renderer links: https[:]//host/path.
func defang(raw string) string {
	s := raw
	if i := strings.Index(s, ":"); i >= 0 {
		s = s[:i] + "[:]" + s[i+1:]
	}
	s = strings.Replace(s, "www.", "www[.]", 1)
	return plain(s)
}

var plainEscaper = strings.NewReplacer(
	`\`, `\\`, "&", "&amp;", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "`", "\\`", "_", `\_`, "*", `\*`,
)

// referenceMark finds what GitHub and GitLab turn into a notification or
// a cross-reference: @user, @org/team, #123, !123 (a merge request), and
// email addresses.
var referenceMark = regexp.MustCompile(`([@#!~$%])([\p{L}\p{N}_])`)

// sigils are referenceMark's first characters.
const sigils = "@#!~$%"

// plain escapes text that must stay text.
func plain(s string) string {
	s = plainEscaper.Replace(s)
	// A zero-width space after the sigil: the text reads the same, and no
	// mention, reference or quick action matches it.
	return referenceMark.ReplaceAllString(s, "$1\u200b$2")
}

// Hidden reports a character that moves, hides or reorders text when it
// is shown: C0 and C1 controls other than line breaks and tabs, Unicode
// format characters (bidirectional controls, zero-width characters, the
// soft hyphen), and the line and paragraph separators.
func Hidden(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
		return true
	}
	return r > 0xa0 && unicode.Is(unicode.Cf, r)
}

// clean drops hidden characters (a line break stays, a tab becomes a
// space) and bounds the length.
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= max {
			b.WriteString("…")
			break
		}
		if r == '\t' {
			r = ' '
		}
		if Hidden(r) {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Terminal renders untrusted text for a terminal: hidden characters are
// shown as Go escapes, so a log line cannot move the cursor, retitle the
// window or reorder what is printed.
func Terminal(s string) string {
	return replaceHidden(s, func(r rune) string { return strings.Trim(strconv.QuoteRuneToASCII(r), "'") })
}

// Reveal shows hidden characters as their code points ([U+202E]); the
// result stays valid inside a JSON string and in HTML.
func Reveal(s string) string {
	return replaceHidden(s, func(r rune) string { return fmt.Sprintf("[U+%04X]", r) })
}

func replaceHidden(s string, show func(rune) string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, Hidden) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if Hidden(r) {
			b.WriteString(show(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TerminalWriter escapes what is written to w as Terminal does.
func TerminalWriter(w io.Writer) io.Writer { return terminalWriter{w} }

type terminalWriter struct{ w io.Writer }

func (t terminalWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, Terminal(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// chatMarkup replaces what chat syntaxes (Slack's mrkdwn, Google Chat's
// text) act on with look-alikes that do nothing: the angle brackets of
// mentions (<!channel>, <users/all>) and links (<url|text>), and the
// characters of bold, italic, strike and code.
var chatMarkup = strings.NewReplacer("<", "‹", ">", "›", "*", "∗", "_", "＿", "~", "∼", "`", "ˋ", "&", "＆")

// DefangURLs shows every URL in s as text no renderer links
// (https[:]//host/path, www[.]host), leaving the rest as it is: for log
// lines shown verbatim inside a code block, whose text a mail client or a
// bot may still read.
func DefangURLs(s string) string {
	return bareURL.ReplaceAllStringFunc(s, func(u string) string {
		if i := strings.Index(u, ":"); i >= 0 {
			u = u[:i] + "[:]" + u[i+1:]
		}
		return strings.Replace(u, "www.", "www[.]", 1)
	})
}

// Chat renders untrusted text for a chat message: hidden characters
// dropped, at most max characters, URLs defanged (https[:]//host), markup
// and mention syntax replaced by look-alikes, and a zero-width space after
// every sigil (@here, #channel). Line breaks are kept; a line cannot start
// a slash command or a quote.
func Chat(s string, max int) string {
	s = DefangURLs(clean(s, max))
	s = strings.ReplaceAll(chatMarkup.Replace(s), "://", "[:]//")
	s = referenceMark.ReplaceAllString(s, "$1\u200b$2")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l = strings.TrimLeft(l, " "); l != "" && (l[0] == '/' || l[0] == '!') {
			l = "\u200b" + l
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
