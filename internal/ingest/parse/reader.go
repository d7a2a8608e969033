package parse

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxLineBytes is where a line is cut; the rest of it is discarded and the
// event is marked Truncated.
const MaxLineBytes = 1 << 20

// TruncatedMarker ends a line that was cut at MaxLineBytes.
const TruncatedMarker = " …[truncated]"

const (
	maxRecordLines = 2000
	maxRecordBytes = 4 << 20
)

// Record is one log record: a line, or a line with the continuation lines
// (stack frames, pretty-printed JSON) that belong to it.
type Record struct {
	Line      int      // 1-based number of the first line
	Lines     []string // raw lines, CR stripped
	Truncated bool
}

// Text joins the record's lines.
func (r Record) Text() string {
	if len(r.Lines) == 1 {
		return r.Lines[0]
	}
	return strings.Join(r.Lines, "\n")
}

// ErrPause is returned by a reader that has no data now but may have more
// later (a followed file, a quiet pipe). A LineReader reports it between
// lines and reads on at the next Scan; an Assembler first hands over the
// record it was holding back, since nothing will join it soon.
var ErrPause = errors.New("input paused")

// LineReader reads lines with CRLF stripped and lines over MaxLineBytes
// cut, in the manner of bufio.Scanner but with no line too long to read.
type LineReader struct {
	br        *bufio.Reader
	buf       []byte
	line      string
	n         int
	truncated bool
	err       error
	paused    bool
	// Truncated counts the lines cut so far.
	Truncated int
}

// NewLineReader reads from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Scan reads the next line; it reports false at the end or on an error.
func (lr *LineReader) Scan() bool {
	if lr.err != nil {
		return false
	}
	lr.paused = false
	lr.buf = lr.buf[:0]
	lr.truncated = false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if room := MaxLineBytes - len(lr.buf); len(chunk) > room {
			lr.buf = append(lr.buf, chunk[:max(room, 0)]...)
			lr.truncated = true
		} else {
			lr.buf = append(lr.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, ErrPause) {
			if len(lr.buf) > 0 || lr.truncated {
				continue // mid-line: wait for the rest of it
			}
			lr.paused = true
			return false
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				lr.err = fmt.Errorf("read line %d: %w", lr.n+1, err)
				return false
			}
			lr.err = io.EOF
			if len(lr.buf) == 0 && !lr.truncated {
				return false
			}
		}
		break
	}
	b := lr.buf
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	lr.n++
	lr.line = string(b)
	if lr.truncated {
		lr.Truncated++
		lr.line += TruncatedMarker
	}
	return true
}

// Paused reports whether the last Scan stopped at ErrPause rather than at
// the end; the next Scan reads on.
func (lr *LineReader) Paused() bool { return lr.paused }

// Text is the line Scan read.
func (lr *LineReader) Text() string { return lr.line }

// Line is the 1-based number of the line Scan read.
func (lr *LineReader) Line() int { return lr.n }

// Cut reports whether the line Scan read was cut at MaxLineBytes.
func (lr *LineReader) Cut() bool { return lr.truncated }

// Err is the read error that stopped Scan, nil at a clean end of input.
func (lr *LineReader) Err() error {
	if errors.Is(lr.err, io.EOF) {
		return nil
	}
	return lr.err
}

// Assembler groups lines into records: stack-trace and other continuation
// lines join the record before them, and a pretty-printed JSON document
// becomes one record.
type Assembler struct {
	lr      *LineReader
	pending *Record
	mode    mode
	depth   jsonDepth
	err     error
	queue   []Record
	// paused is a pause to report once the queue is empty.
	paused bool
}

type mode int

const (
	modeNone mode = iota
	modeJSON
	modePyTrace
	modeGoTrace
)

// NewAssembler reads records from r.
func NewAssembler(r io.Reader) *Assembler { return &Assembler{lr: NewLineReader(r)} }

// TruncatedLines reports how many lines were cut so far.
func (a *Assembler) TruncatedLines() int { return a.lr.Truncated }

// LinesRead reports how many lines were read so far.
func (a *Assembler) LinesRead() int { return a.lr.Line() }

// Next returns the next record, or io.EOF at the end; ErrPause when the
// reader paused and no record is waiting (call Next again to read on).
func (a *Assembler) Next() (Record, error) {
	for {
		if len(a.queue) > 0 {
			r := a.queue[0]
			a.queue = a.queue[1:]
			return r, nil
		}
		if a.paused {
			a.paused = false
			return Record{}, ErrPause
		}
		if a.err != nil {
			return Record{}, a.err
		}
		if !a.lr.Scan() {
			if a.lr.Paused() {
				// Hand over what was held back, then report the pause
				// so the caller can act on a quiet input.
				a.flush()
				a.paused = true
				continue
			}
			a.err = a.lr.Err()
			if a.err == nil {
				a.err = io.EOF
			}
			a.flush()
			continue
		}
		a.add(a.lr.Text(), a.lr.Line(), a.lr.Cut())
	}
}

func (a *Assembler) flush() {
	if a.pending == nil {
		return
	}
	if a.mode == modeJSON {
		// An unterminated document: hand its lines back one by one so that
		// nothing after a stray brace is swallowed.
		for i, l := range a.pending.Lines {
			a.queue = append(a.queue, Record{Line: a.pending.Line + i, Lines: []string{l}})
		}
	} else {
		a.queue = append(a.queue, *a.pending)
	}
	a.pending = nil
	a.mode = modeNone
}

func (a *Assembler) add(line string, n int, trunc bool) {
	p := a.pending
	if p != nil && a.mode == modeJSON {
		p.Lines = append(p.Lines, line)
		p.Truncated = p.Truncated || trunc
		a.depth.feed(line)
		if a.depth.closed() {
			a.queue = append(a.queue, *p)
			a.pending, a.mode = nil, modeNone
		} else if len(p.Lines) > maxRecordLines*50 || a.depth.bytes > maxRecordBytes {
			a.flush()
		}
		return
	}
	if strings.TrimSpace(line) == "" {
		return // blank lines carry nothing; they never end a trace early
	}
	if p != nil && len(p.Lines) < maxRecordLines && a.continues(line) {
		p.Lines = append(p.Lines, line)
		p.Truncated = p.Truncated || trunc
		return
	}
	a.flush()
	a.pending = &Record{Line: n, Lines: []string{line}, Truncated: trunc}
	if startsJSONDocument(line) {
		a.depth = jsonDepth{}
		a.depth.feed(line)
		if !a.depth.closed() {
			a.mode = modeJSON
			return
		}
	}
	switch {
	case strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: "):
		a.mode = modeGoTrace
	case strings.HasPrefix(line, "Traceback (most recent call last)"):
		a.mode = modePyTrace // a traceback printed on its own, no header
	}
}

// continues reports whether line belongs to the pending record.
func (a *Assembler) continues(line string) bool {
	if p := a.pending; len(p.Lines) == 1 && isJULSecondLine(line) {
		if _, _, ok := parseJULHeader(p.Lines[0]); ok {
			return true
		}
	}
	c := line[0]
	if c == ' ' || c == '\t' {
		return true
	}
	switch {
	case strings.HasPrefix(line, "Caused by:"), strings.HasPrefix(line, "Suppressed:"):
		return true
	case strings.HasPrefix(line, "Traceback (most recent call last)"):
		a.mode = modePyTrace
		return true
	case strings.HasPrefix(line, "goroutine ") && strings.Contains(line, " ["):
		a.mode = modeGoTrace
		return true
	case strings.HasPrefix(line, "[signal ") || strings.HasPrefix(line, "created by "):
		return a.mode == modeGoTrace
	case IsGoFrame(line):
		// zap's and the runtime's frames print the function unindented,
		// its file indented below.
		return true
	}
	switch a.mode {
	case modePyTrace:
		if strings.HasPrefix(line, "During handling of") || strings.HasPrefix(line, "The above exception") {
			return true
		}
		if isExceptionLine(line) {
			return true
		}
	case modeGoTrace:
		// Frames print the function unindented: "main.main()".
		// Arguments may hold spaces ("({0x7f2c, 0xc000212000})"); the
		// function name before them does not.
		if i := strings.IndexByte(line, '('); i > 0 && strings.HasSuffix(line, ")") && !strings.Contains(line[:i], " ") {
			return true
		}
		if strings.HasPrefix(line, "exit status ") {
			return true
		}
	}
	return isJavaExceptionHeader(line)
}

// IsGoFrame reports a Go stack frame's function line as zap and the
// runtime print it, unindented: "github.com/acme/shop/cart.(*Cart).Total",
// "main.main()", "net/http.HandlerFunc.ServeHTTP(0xc000118a80, ...)". A
// qualified name with a package path, a method receiver or a call's
// parentheses; no spaces before the arguments.
func IsGoFrame(line string) bool {
	// A log line has a space before any parenthesis: rejected at once.
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '(' {
			break
		}
		if !(isAlnum(c) || c == '_' || c == '.' || c == '/' || c == '*' || c == '-') {
			return false
		}
	}
	name := line
	if i := strings.IndexByte(line, '('); i > 0 && strings.HasSuffix(line, ")") && !strings.HasPrefix(line[i:], "(*") {
		name = line[:i] // the arguments may hold spaces
	} else if i := strings.Index(line, ")."); i > 0 && strings.Contains(line[:i], "(*") {
		if j := strings.IndexByte(line[i+2:], '('); j > 0 {
			name = line[:i+2+j]
		}
	}
	if len(name) < 3 || !isLetterOrUnderscore(name[0]) || strings.ContainsAny(name, " \t") {
		return false
	}
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(isAlnum(c) || strings.IndexByte("_./*()-", c) >= 0) {
			return false
		}
	}
	return strings.ContainsAny(name, "/(") || name != line
}

func isLetterOrUnderscore(c byte) bool { return c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z' }

// isJavaExceptionHeader matches "java.lang.IllegalStateException: msg" or
// "org.foo.FSWriteError", which start a trace under the line that logged it.
func isJavaExceptionHeader(line string) bool {
	// The class name runs to the first colon or the end; any other byte
	// (a space first of all) means this is no header, which most lines
	// show within a word.
	end := 0
	for end < len(line) {
		c := line[end]
		if !(c == '.' || c == '$' || c == '_' || isAlnum(c)) {
			break
		}
		end++
	}
	if end < len(line) && line[end] != ':' {
		return false
	}
	name := line[:end]
	if strings.IndexByte(name, '.') < 0 {
		return false
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	return strings.HasSuffix(last, "Exception") || strings.HasSuffix(last, "Error") || strings.HasSuffix(last, "Throwable") || strings.HasSuffix(last, "Fault")
}

// isExceptionLine matches the last line of a Python traceback:
// "ValueError: bad", "requests.exceptions.HTTPError: 500".
func isExceptionLine(line string) bool {
	end := strings.IndexByte(line, ':')
	if end <= 0 {
		end = len(line)
	}
	name := line[:end]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '.' || c == '_' || isAlnum(c)) {
			return false
		}
	}
	return strings.HasSuffix(name, "Error") || strings.HasSuffix(name, "Exception") || strings.HasSuffix(name, "Exit") || strings.HasSuffix(name, "Interrupt") || strings.HasSuffix(name, "Warning")
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// startsJSONDocument is true for lines that can only be JSON: "{" then a
// quote or the end, "[" then "{", "[" or the end.
func startsJSONDocument(line string) bool {
	s := skipBlanks(line)
	if len(s) == 0 || (s[0] != '{' && s[0] != '[') {
		return false
	}
	rest := skipBlanks(s[1:])
	if rest == "" {
		return true
	}
	if s[0] == '{' {
		return rest[0] == '"' || rest[0] == '}'
	}
	return rest[0] == '{' || rest[0] == '[' || rest[0] == ']'
}

// skipBlanks drops leading spaces and tabs (strings.TrimLeft builds a set
// per call; this runs on every line).
func skipBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// jsonDepth tracks bracket depth across lines, aware of strings.
type jsonDepth struct {
	depth    int
	inString bool
	escaped  bool
	started  bool
	bytes    int
}

func (d *jsonDepth) feed(s string) {
	d.bytes += len(s) + 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if d.inString {
			switch {
			case d.escaped:
				d.escaped = false
			case c == '\\':
				d.escaped = true
			case c == '"':
				d.inString = false
			}
			continue
		}
		switch c {
		case '"':
			d.inString = true
		case '{', '[':
			d.depth++
			d.started = true
		case '}', ']':
			d.depth--
		}
	}
}

func (d *jsonDepth) closed() bool { return d.started && d.depth <= 0 }
