package policy

import (
	"regexp"
	"strings"
)

// The download-and-run check looks at what a line does, not at one
// spelling of it: a fetch (curl, wget, PowerShell's web cmdlets, ...)
// whose output reaches an interpreter by a pipe (through any filters,
// sudo or env), by command or process substitution, or by a file the same
// added text then runs.

const fetchTools = `curl|wget|fetch|aria2c|lwp-download|lwp-request|http|https|xh|iwr|irm|invoke-webrequest|invoke-restmethod|start-bitstransfer|certutil|bitsadmin`

const runTools = `(?:ba|da|z|k|c|tc|a|fi)?sh|busybox|python[0-9.]*|py|perl|ruby|node|nodejs|deno|bun|php|lua|tclsh|pwsh|powershell|iex|invoke-expression|cmd|source|eval|exec|osascript|java|jshell|r|rscript|groovy`

var (
	fetchRE = regexp.MustCompile(`(?i)(?:^|[^\w.-])(?:` + fetchTools + `)(?:\.exe)?\s`)
	// A pipe (not ||) after a fetch, anything, then an interpreter word.
	// (|| is blanked out before this runs.)
	pipeRunRE = regexp.MustCompile(`(?i)\|(?:.*?[\s/|;&(])?(?:` + runTools + `)(?:\.exe)?(?:\s|$|[;&|)'"` + "`" + `-])`)
	// Output of a fetch used as code: $(...), <(...), backticks, or
	// PowerShell's iex (...).
	substRE = regexp.MustCompile(`(?i)(?:\$\(|<\(|` + "`" + `|\$\{)\s*(?:[\w/.-]*/)?(?:sudo\s+)?(?:` + fetchTools + `)(?:\.exe)?\s`)
	psRE    = regexp.MustCompile(`(?i)\b(?:iex|invoke-expression)\b.*\b(?:iwr|irm|invoke-webrequest|invoke-restmethod|downloadstring|downloadfile|net\.webclient|curl|wget)\b|\b(?:iwr|irm|invoke-webrequest|invoke-restmethod|downloadstring|net\.webclient)\b.*\|\s*(?:iex|invoke-expression)\b`)
	// Fetched text evaluated inside a program: exec(urlopen(...).read()),
	// eval(requests.get(...).text), new Function(await (await fetch(u)).text()).
	evalFetchRE = regexp.MustCompile(`(?i)\b(?:exec|eval|execfile|compile|function|runpy\.\w+|load|loadstring|instance_eval|class_eval|vm\.run\w*)\s*\(.*\b(?:urlopen|urlretrieve|requests\.(?:get|post)|httpx\.\w+|urllib|fetch|axios|http\.get|https\.get|net::http|open-uri|uri\.open|file_get_contents\s*\(\s*['"]https?:|downloadstring)\b`)
	base64RunRE = regexp.MustCompile(`(?i)\bbase64\s+(?:-d|--decode|-D)\b[^|\n]*\|\s*(?:sudo\s+)?(?:\w+/)*(?:` + runTools + `)\b`)
	// A fetch that writes a file: -o FILE, -O FILE, --output FILE,
	// --output-document FILE, -OutFile FILE, > FILE.
	outFileRE = regexp.MustCompile(`(?i)(?:\s-[a-zA-Z]*[oO]\s*|\s--output(?:-document)?[=\s]|\s-outfile\s+|>\s*)['"]?([\w./~$-]+)`)
	// Network fetches with no interpreter, for files where any fetch is
	// out of place (configuration, data).
	anyFetchRE = regexp.MustCompile(`(?i)(?:^|[^\w.-])(?:curl|wget|aria2c|iwr|irm|invoke-webrequest|invoke-restmethod|certutil|bitsadmin|nc|ncat|netcat|socat|scp|rsync|tftp|ftp)(?:\.exe)?\s|/dev/(?:tcp|udp)/|git\s+clone\s|pip3?\s+install\s|npm\s+(?:i|install)\s|go\s+install\s|gem\s+install\s`)
)

// runsDownloaded reports the first way the text runs something it
// downloads, or "". The text is one file's added lines (or the proposal's
// prose), joined by newlines; a command continued with a backslash is one
// line.
func runsDownloaded(text string) string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var outputs []string
	for _, line := range strings.Split(text, "\n") {
		if m := substRE.FindString(line); m != "" {
			return line
		}
		if psRE.MatchString(line) || evalFetchRE.MatchString(line) || base64RunRE.MatchString(line) {
			return line
		}
		loc := fetchRE.FindStringIndex(line)
		if loc == nil {
			continue
		}
		rest := line[loc[0]:]
		if pipeRunRE.MatchString(strings.ReplaceAll(rest, "||", "  ")) {
			return line
		}
		for _, m := range outFileRE.FindAllStringSubmatch(rest, -1) {
			outputs = append(outputs, m[1])
		}
	}
	// A file the text downloaded, then ran (on the same line after && or
	// ;, or on a later line).
	for _, out := range outputs {
		base := out[strings.LastIndex(out, "/")+1:]
		if base == "" || base == "-" || base == "/dev/null" || base == "null" {
			continue
		}
		q := regexp.QuoteMeta(base)
		run := regexp.MustCompile(`(?i)(?:(?:^|[\s/;&|('"])(?:` + runTools + `|chmod\s+(?:[+ugoa]*x|[0-7]*[1357])[0-7]*|sudo|nohup|start-process|&)\s+(?:-\S+\s+)*['"]?(?:[\w./~$-]*/)?` + q + `|\./` + q + `|[\s;&|]\.\s+['"]?(?:[\w./~$-]*/)?` + q + `)`)
		for _, line := range strings.Split(text, "\n") {
			if run.MatchString(line) {
				return line
			}
		}
	}
	return ""
}

// fetches reports a network fetch of any kind on the line, or "".
func fetches(line string) string {
	return anyFetchRE.FindString(line)
}
