// Package patch is the one model of a proposed diff that the gate,
// validation and every delivery target share. A diff is parsed once (with
// go-gitdiff), and each file's old and new repository path is decided per
// file exactly as `git apply -p1` would write it: git-format headers
// (`diff --git a/X b/X`) and traditional ones (`--- a/X` / `+++ b/X`)
// both lose their first component. A diff whose meaning is not certain is
// refused rather than guessed: git and traditional files mixed in one
// diff, names that differ between a file's header lines, quoted names
// that do not decode, names that cannot be stripped, control characters,
// or a file count that a second, independent scan of the headers does not
// confirm.
package patch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/cloud-sre-agent/sre-agent/internal/inert"
)

// ErrAmbiguous marks a diff whose file names or format are not certain.
var ErrAmbiguous = errors.New("ambiguous diff")

// File is one file's change, with its paths as git apply -p1 writes them.
type File struct {
	// Old and New are repository paths; Old is "" for a created file, New
	// "" for a deleted one.
	Old, New string
	// OldMode and NewMode are the modes the headers declare (0 when they
	// declare none).
	OldMode, NewMode os.FileMode
	IsNew, IsDelete  bool
	IsRename, IsCopy bool
	IsBinary         bool
	// Git tells a git-format header from a traditional one.
	Git bool
	// Diff is the parsed change, for applying it.
	Diff *gitdiff.File
}

// Path is the path the change writes (New), or for a deletion the path it
// removes.
func (f File) Path() string {
	if f.New != "" {
		return f.New
	}
	return f.Old
}

// Paths are the file's distinct paths, old first.
func (f File) Paths() []string {
	switch {
	case f.Old == "":
		return []string{f.New}
	case f.New == "" || f.New == f.Old:
		return []string{f.Old}
	}
	return []string{f.Old, f.New}
}

// Patch is a parsed diff.
type Patch struct {
	Files []File
}

// Parse reads a unified diff. Every error wraps ErrAmbiguous or says why
// the diff does not parse.
func Parse(diff string) (*Patch, error) {
	if strings.ContainsAny(diff, "\x00\r") {
		return nil, fmt.Errorf("%w: NUL or carriage-return characters", ErrAmbiguous)
	}
	if !utf8.ValidString(diff) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrAmbiguous)
	}
	files, _, err := gitdiff.Parse(strings.NewReader(diff))
	if err != nil {
		return nil, fmt.Errorf("diff does not parse: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("diff has no file changes")
	}
	headers, err := scan(diff)
	if err != nil {
		return nil, err
	}
	if len(headers) != len(files) {
		return nil, fmt.Errorf("%w: %d file headers, but the parser read %d files", ErrAmbiguous, len(headers), len(files))
	}
	p := &Patch{}
	for i, f := range files {
		h := headers[i]
		if h.git != headers[0].git {
			return nil, fmt.Errorf("%w: git and traditional file headers mixed in one diff", ErrAmbiguous)
		}
		pf, err := decide(f, h)
		if err != nil {
			return nil, err
		}
		p.Files = append(p.Files, pf)
	}
	return p, nil
}

// decide takes each name from the header scan and checks that the parser
// read the same.
func decide(f *gitdiff.File, h header) (File, error) {
	pf := File{Old: h.old, New: h.new, OldMode: f.OldMode, NewMode: f.NewMode, IsNew: f.IsNew, IsDelete: f.IsDelete,
		IsRename: f.IsRename, IsCopy: f.IsCopy, IsBinary: f.IsBinary, Git: h.git, Diff: f}
	parsedOld, parsedNew := f.OldName, f.NewName
	if !h.git {
		// go-gitdiff keeps a traditional diff's prefixes and names both
		// sides by one of them; git apply -p1 strips one component.
		var ok bool
		if parsedOld, ok = strip(f.OldName); f.OldName != "" && !ok {
			return File{}, fmt.Errorf("%w: %q has no leading directory to strip (-p1)", ErrAmbiguous, f.OldName)
		}
		if parsedNew, ok = strip(f.NewName); f.NewName != "" && !ok {
			return File{}, fmt.Errorf("%w: %q has no leading directory to strip (-p1)", ErrAmbiguous, f.NewName)
		}
	}
	want := func(side, parsed, scanned string) error {
		if parsed != scanned {
			return fmt.Errorf("%w: the %s name is read as %q by one parser and %q by another", ErrAmbiguous, side, parsed, scanned)
		}
		return nil
	}
	if err := want("old", parsedOld, pf.Old); err != nil {
		return File{}, err
	}
	if err := want("new", parsedNew, pf.New); err != nil {
		return File{}, err
	}
	for _, n := range pf.Paths() {
		if n == "" {
			return File{}, fmt.Errorf("%w: a file without a name", ErrAmbiguous)
		}
		if strings.ContainsFunc(n, func(r rune) bool { return inert.Hidden(r) || r == '\n' || r == '\t' }) {
			return File{}, fmt.Errorf("%w: control, format or bidirectional characters in %q", ErrAmbiguous, n)
		}
	}
	return pf, nil
}

// header is what the independent scan reads of one file header.
type header struct {
	git      bool
	old, new string
}

// scan walks the diff's lines the way git apply reads headers, skipping
// hunk bodies by their line counts, and decides each file's names. It
// shares no code with go-gitdiff: where the two disagree the diff is
// ambiguous.
func scan(diff string) ([]header, error) {
	lines := strings.SplitAfter(diff, "\n")
	var out []header
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSuffix(lines[i], "\n")
		switch {
		case strings.HasPrefix(l, "diff --git "):
			h, next, err := scanGit(lines, i)
			if err != nil {
				return nil, err
			}
			out = append(out, h)
			i = next - 1
		case strings.HasPrefix(l, "--- ") && i+2 < len(lines) && strings.HasPrefix(lines[i+1], "+++ ") && strings.HasPrefix(lines[i+2], "@@ -"):
			h, err := traditional(strings.TrimSuffix(l, "\n")[4:], strings.TrimSuffix(lines[i+1], "\n")[4:])
			if err != nil {
				return nil, err
			}
			out = append(out, h)
			i++ // the hunks follow
		case strings.HasPrefix(l, "@@ -"):
			n, err := skipHunk(lines, i)
			if err != nil {
				return nil, err
			}
			i = n - 1
		}
	}
	return out, nil
}

// scanGit reads a git file header from line i and returns the index of
// the first line after it.
func scanGit(lines []string, i int) (header, int, error) {
	a, b, err := gitHeaderNames(strings.TrimSuffix(lines[i], "\n")[len("diff --git "):])
	if err != nil {
		return header{}, 0, err
	}
	h := header{git: true, old: a, new: b}
	isNew, isDelete := false, false
	var fromDash, fromPlus, renameFrom, renameTo *string
	j := i + 1
header:
	for ; j < len(lines); j++ {
		l := strings.TrimSuffix(lines[j], "\n")
		rest := func(prefix string) string { return l[len(prefix):] }
		switch {
		case strings.HasPrefix(l, "--- "):
			n, err := sideName(rest("--- "), true)
			if err != nil {
				return header{}, 0, err
			}
			fromDash = &n
		case strings.HasPrefix(l, "+++ "):
			n, err := sideName(rest("+++ "), true)
			if err != nil {
				return header{}, 0, err
			}
			fromPlus = &n
		case strings.HasPrefix(l, "rename from "), strings.HasPrefix(l, "copy from "):
			n, err := sideName(l[strings.Index(l, " from ")+6:], false)
			if err != nil {
				return header{}, 0, err
			}
			renameFrom = &n
		case strings.HasPrefix(l, "rename to "), strings.HasPrefix(l, "copy to "):
			n, err := sideName(l[strings.Index(l, " to ")+4:], false)
			if err != nil {
				return header{}, 0, err
			}
			renameTo = &n
		case strings.HasPrefix(l, "new file mode "):
			isNew = true
		case strings.HasPrefix(l, "deleted file mode "):
			isDelete = true
		case strings.HasPrefix(l, "old mode "), strings.HasPrefix(l, "new mode "), strings.HasPrefix(l, "index "),
			strings.HasPrefix(l, "similarity index "), strings.HasPrefix(l, "dissimilarity index "):
		default: // hunks, a binary patch, or the next file
			break header
		}
	}
	// Every name a header line gives must agree with the diff --git line.
	for _, c := range []struct {
		got  *string
		want string
	}{{fromDash, h.old}, {renameFrom, h.old}, {fromPlus, h.new}, {renameTo, h.new}} {
		if c.got != nil && *c.got != "/dev/null" && *c.got != c.want {
			return header{}, 0, fmt.Errorf("%w: header lines name %q where diff --git names %q", ErrAmbiguous, *c.got, c.want)
		}
	}
	if (fromDash != nil && *fromDash == "/dev/null") != isNew || (fromPlus != nil && *fromPlus == "/dev/null") != isDelete {
		if fromDash != nil || fromPlus != nil {
			return header{}, 0, fmt.Errorf("%w: /dev/null and the new or deleted file mode disagree for %q", ErrAmbiguous, h.new)
		}
	}
	if isNew {
		h.old = ""
	}
	if isDelete {
		h.new = ""
	}
	// The hunks of this file, up to the next header.
	for j < len(lines) {
		l := lines[j]
		if !strings.HasPrefix(l, "@@ -") {
			break
		}
		n, err := skipHunk(lines, j)
		if err != nil {
			return header{}, 0, err
		}
		j = n
	}
	return h, j, nil
}

// gitHeaderNames splits the names of a diff --git line: "a/X b/Y", either
// side possibly quoted. Unquoted names with spaces are accepted only when
// both sides are the same name, as git itself requires.
func gitHeaderNames(s string) (string, string, error) {
	var a, b string
	switch {
	case strings.HasPrefix(s, `"`):
		n, used, err := unquote(s)
		if err != nil {
			return "", "", err
		}
		a = n
		rest := s[used:]
		if !strings.HasPrefix(rest, " ") {
			return "", "", fmt.Errorf("%w: diff --git line %q", ErrAmbiguous, s)
		}
		rest = rest[1:]
		if strings.HasPrefix(rest, `"`) {
			if b, used, err = unquote(rest); err != nil {
				return "", "", err
			}
			if used != len(rest) {
				return "", "", fmt.Errorf("%w: diff --git line %q", ErrAmbiguous, s)
			}
		} else {
			b = rest
		}
	default:
		if i := strings.Index(s, ` "`); i >= 0 && strings.HasSuffix(s, `"`) {
			a = s[:i]
			n, used, err := unquote(s[i+1:])
			if err != nil || used != len(s)-i-1 {
				return "", "", fmt.Errorf("%w: diff --git line %q", ErrAmbiguous, s)
			}
			b = n
			break
		}
		if strings.Count(s, " ") == 1 {
			a, b, _ = strings.Cut(s, " ")
			break
		}
		// "a/X b/X" with spaces in X: the only split git accepts.
		if (len(s)-1)%2 == 0 {
			half := (len(s) - 1) / 2
			if s[half] == ' ' && strings.HasPrefix(s, "a/") && strings.HasPrefix(s[half+1:], "b/") && s[2:half] == s[half+3:] {
				a, b = s[:half], s[half+1:]
				break
			}
		}
		return "", "", fmt.Errorf("%w: cannot tell the two names apart in diff --git %q", ErrAmbiguous, s)
	}
	sa, ok1 := strip(a)
	sb, ok2 := strip(b)
	if !ok1 || !ok2 {
		return "", "", fmt.Errorf("%w: diff --git %q has a name without a leading directory", ErrAmbiguous, s)
	}
	return sa, sb, nil
}

// sideName reads the name on a ---, +++, rename or copy line: up to a tab
// (a timestamp follows), quoted or not; prefixed names lose one component.
func sideName(s string, prefixed bool) (string, error) {
	var name string
	if strings.HasPrefix(s, `"`) {
		n, _, err := unquote(s)
		if err != nil {
			return "", err
		}
		name = n
	} else {
		name, _, _ = strings.Cut(s, "\t")
	}
	if name == "/dev/null" || !prefixed {
		return name, nil
	}
	stripped, ok := strip(name)
	if !ok {
		return "", fmt.Errorf("%w: %q has no leading directory to strip (-p1)", ErrAmbiguous, name)
	}
	return stripped, nil
}

// traditional decides a traditional header's names: /dev/null (or GNU
// diff's epoch timestamp) marks a created or deleted file; otherwise both
// lines must name the same file.
func traditional(dash, plus string) (header, error) {
	epoch := func(s string) bool {
		_, ts, ok := strings.Cut(s, "\t")
		return ok && (strings.HasPrefix(ts, "1970-01-01 00:00:00") || strings.HasPrefix(ts, "1969-12-31 "))
	}
	oldName, err := sideName(dash, true)
	if err != nil {
		return header{}, err
	}
	newName, err := sideName(plus, true)
	if err != nil {
		return header{}, err
	}
	switch {
	case oldName == "/dev/null" || epoch(dash):
		return header{new: newName}, nil
	case newName == "/dev/null" || epoch(plus):
		return header{old: oldName}, nil
	case oldName != newName:
		return header{}, fmt.Errorf("%w: --- names %q and +++ names %q", ErrAmbiguous, oldName, newName)
	}
	return header{old: oldName, new: newName}, nil
}

// skipHunk returns the index of the line after the hunk at i, counting
// its lines by the header's numbers.
func skipHunk(lines []string, i int) (int, error) {
	oldN, newN, err := hunkCounts(strings.TrimSuffix(lines[i], "\n"))
	if err != nil {
		return 0, err
	}
	j := i + 1
	for ; j < len(lines) && (oldN > 0 || newN > 0); j++ {
		l := lines[j]
		switch {
		case l == "\n" || strings.HasPrefix(l, " "):
			oldN--
			newN--
		case strings.HasPrefix(l, "-"):
			oldN--
		case strings.HasPrefix(l, "+"):
			newN--
		case strings.HasPrefix(l, `\`):
		default:
			return 0, fmt.Errorf("%w: hunk %q ends early", ErrAmbiguous, strings.TrimSpace(lines[i]))
		}
	}
	if oldN != 0 || newN != 0 {
		return 0, fmt.Errorf("%w: hunk %q does not match its line counts", ErrAmbiguous, strings.TrimSpace(lines[i]))
	}
	for j < len(lines) && strings.HasPrefix(lines[j], `\`) {
		j++
	}
	return j, nil
}

// hunkCounts reads "@@ -a[,b] +c[,d] @@".
func hunkCounts(l string) (int, int, error) {
	rest := strings.TrimPrefix(l, "@@ -")
	end := strings.Index(rest, " @@")
	if end < 0 {
		return 0, 0, fmt.Errorf("%w: hunk header %q", ErrAmbiguous, l)
	}
	o, n, ok := strings.Cut(rest[:end], " +")
	if !ok {
		return 0, 0, fmt.Errorf("%w: hunk header %q", ErrAmbiguous, l)
	}
	count := func(r string) (int, error) {
		_, c, has := strings.Cut(r, ",")
		if !has {
			return 1, nil
		}
		v, err := strconv.Atoi(c)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%w: hunk header %q", ErrAmbiguous, l)
		}
		return v, nil
	}
	oc, err := count(o)
	if err != nil {
		return 0, 0, err
	}
	nc, err := count(n)
	return oc, nc, err
}

// unquote decodes a C-style quoted name at the start of s (git quotes
// names with unusual bytes) and returns how many bytes it used.
func unquote(s string) (string, int, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			name, err := strconv.Unquote(s[:i+1])
			if err != nil || !utf8.ValidString(name) {
				return "", 0, fmt.Errorf("%w: quoted name %s does not decode cleanly", ErrAmbiguous, s[:i+1])
			}
			return name, i + 1, nil
		}
	}
	return "", 0, fmt.Errorf("%w: unterminated quoted name %s", ErrAmbiguous, s)
}

// strip drops the first path component, as -p1 does; ok is false when
// there is none to drop. Doubled slashes collapse first, as git's do.
func strip(name string) (string, bool) {
	if name == "" || name == "/dev/null" {
		return name, true
	}
	for strings.Contains(name, "//") {
		name = strings.ReplaceAll(name, "//", "/")
	}
	i := strings.IndexByte(name, '/')
	if i < 0 || i == len(name)-1 {
		return "", false
	}
	return name[i+1:], true
}
