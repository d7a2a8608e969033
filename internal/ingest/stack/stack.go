// Package stack reads stack frames out of stack-trace text (Go, Java and
// Kotlin, Python, Node.js, .NET) and tells the application's own frames
// from library and runtime frames, so the pipeline can point at the code
// an error came from.
package stack

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// MaxFrames bounds how many frames Parse returns.
const MaxFrames = 64

var (
	javaFrame   = regexp.MustCompile(`^\s*at\s+([\w$.<>/]+)\(([^():]+)(?::(\d+))?\)`)
	pyFrame     = regexp.MustCompile(`^\s*File "([^"]+)", line (\d+)(?:, in (\S+))?`)
	nodeFrame   = regexp.MustCompile(`^\s*at\s+(?:(.+?)\s+\()?((?:[A-Za-z]:)?[^()\s]+?):(\d+):\d+\)?\s*$`)
	goFile      = regexp.MustCompile(`^\s+(\S+\.go):(\d+)(?:\s+\+0x[0-9a-f]+)?\s*$`)
	dotnetFrame = regexp.MustCompile(`^\s*at\s+(.+?)\s+in\s+(.+?):line\s+(\d+)\s*$`)
)

// Parse returns the frames found in text, outermost call last as the trace
// prints them (innermost first for Go, Java, Node and .NET; Python prints
// innermost last, so its frames are reversed to match). Lines that are not
// frames are skipped.
func Parse(text string) []domain.Frame {
	lines := strings.Split(text, "\n")
	var out []domain.Frame
	var py []domain.Frame
	for i, l := range lines {
		if len(out)+len(py) >= MaxFrames {
			break
		}
		l = strings.TrimRight(l, "\r")
		if m := pyFrame.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			py = append(py, domain.Frame{File: m[1], Line: n, Function: m[3], Lang: "python"})
			continue
		}
		if m := dotnetFrame.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[3])
			out = append(out, domain.Frame{Function: m[1], File: m[2], Line: n, Lang: "dotnet"})
			continue
		}
		if m := javaFrame.FindStringSubmatch(l); m != nil && (strings.HasSuffix(m[2], ".java") || strings.HasSuffix(m[2], ".kt") || strings.HasSuffix(m[2], ".scala") || m[2] == "Native Method" || m[2] == "Unknown Source") {
			n, _ := strconv.Atoi(m[3])
			out = append(out, domain.Frame{Function: m[1], File: javaPath(m[1], m[2]), Line: n, Lang: "java"})
			continue
		}
		if m := nodeFrame.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[3])
			out = append(out, domain.Frame{Function: m[1], File: m[2], Line: n, Lang: "node"})
			continue
		}
		if m := goFile.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			fn := ""
			if i > 0 {
				fn = goFunction(lines[i-1])
			}
			out = append(out, domain.Frame{Function: fn, File: m[1], Line: n, Lang: "go"})
		}
	}
	for i := len(py) - 1; i >= 0; i-- {
		out = append(out, py[i])
	}
	for i := range out {
		out[i].InApp = inApp(out[i])
	}
	return out
}

// goFunction is the function on the line before a Go file:line line:
// "main.(*Server).handle(0xc000, ...)" gives "main.(*Server).handle".
func goFunction(l string) string {
	l = strings.TrimSpace(l)
	if i := strings.LastIndexByte(l, '('); i > 0 && strings.HasSuffix(l, ")") {
		l = l[:i]
	}
	if strings.ContainsAny(l, " \t") {
		return ""
	}
	return l
}

// javaPath turns a class's method and source file into the path the
// package layout implies: com.acme.Foo.bar + Foo.java -> com/acme/Foo.java.
func javaPath(method, file string) string {
	if file == "Native Method" || file == "Unknown Source" {
		return file
	}
	dot := strings.LastIndexByte(method, '.')
	if dot < 0 {
		return file
	}
	class := method[:dot]
	pkg := class
	if i := strings.LastIndexByte(class, '.'); i >= 0 {
		pkg = class[:i]
	} else {
		return file
	}
	return strings.ReplaceAll(pkg, ".", "/") + "/" + file
}

// Runtime and third-party locations by language: generic markers of
// where code that is not the application's lives.
var notApp = map[string][]string{
	"go":     {"/go/pkg/mod/", "/usr/local/go/src/", "/usr/lib/go", "runtime/", "GOROOT/", "/vendor/"},
	"python": {"site-packages/", "dist-packages/", "/lib/python", "<frozen ", "<string>"},
	"node":   {"node_modules/", "node:", "internal/"},
	"java":   {"java/", "javax/", "jdk/", "sun/", "kotlin/", "scala/", "Native Method", "Unknown Source"},
	"dotnet": {},
}

var notAppFunc = map[string][]string{
	"go":     {"runtime.", "net/http.", "testing."},
	"java":   {"java.", "javax.", "jdk.", "sun.", "kotlin.", "scala.", "java.base/"},
	"dotnet": {"System.", "Microsoft."},
}

func inApp(f domain.Frame) bool {
	for _, p := range notApp[f.Lang] {
		if strings.HasPrefix(f.File, p) || strings.Contains(f.File, "/"+p) || (strings.HasSuffix(p, "/") && strings.Contains(f.File, p)) {
			return false
		}
	}
	for _, p := range notAppFunc[f.Lang] {
		if strings.HasPrefix(f.Function, p) {
			return false
		}
	}
	if f.Lang == "go" && !strings.Contains(f.File, "/") {
		return false
	}
	return f.File != ""
}

// TopInApp is the innermost frame of the application's own code.
func TopInApp(frames []domain.Frame) (domain.Frame, bool) {
	for _, f := range frames {
		if f.InApp {
			return f, true
		}
	}
	return domain.Frame{}, false
}
