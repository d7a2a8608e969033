package parse

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Parser parses records into events. It keeps scratch state, so one Parser
// serves one goroutine.
type Parser struct {
	json fastjson.Parser // one line
	arr  fastjson.Parser // a multi-line document or array, whose values stay live while items parse
	// nested parses a line carried inside another (Docker's "log", CRI),
	// made once and reused.
	nested *Parser
	// timeHints remembers, per timestamp shape, which layout parsed it.
	timeHints map[string]timeHint
	// Now gives the year to timestamps written without one (time.Now
	// when nil).
	Now func() time.Time
	// Config orders where services are read from (the zero value: the
	// defaults).
	Config Config
}

func (p *Parser) child() *Parser {
	if p.nested == nil {
		p.nested = &Parser{}
	}
	return p.nested
}

// Parse turns one record into events (a JSON array gives several) and calls
// emit for each. It never fails: a record it cannot understand is emitted as
// a plain-text event with ParseError set.
func (p *Parser) Parse(rec Record, emit func(domain.Event)) {
	first := rec.Lines[0]
	if startsJSONDocument(first) && (len(rec.Lines) > 1 || strings.TrimLeft(first, " \t")[0] == '[') {
		p.parseJSONDocument(rec, rec.Text(), emit)
		return
	}
	ev := p.parseLine(first)
	rest := rec.Lines[1:]
	if len(rest) > 0 && ev.SourceLocation != nil && isJULSecondLine(rest[0]) {
		// java.util.logging: the level and message are on the second line.
		second := p.parseText(rest[0])
		ev.Severity, ev.Message = second.Severity, second.Message
		rest = rest[1:]
	}
	ev.Line = rec.Line
	ev.Truncated = rec.Truncated
	ev.Raw = first
	if strings.HasPrefix(ev.Message, "Traceback (most recent call last)") && len(rest) > 0 {
		// Python names the exception last: it is the message, the frames
		// above it the stack.
		if last := strings.TrimSpace(rest[len(rest)-1]); isExceptionLine(last) {
			ev.Stack = strings.Join(append([]string{ev.Message}, rest[:len(rest)-1]...), "\n")
			ev.Message, rest = last, nil
		}
	}
	if len(rest) > 0 {
		attachContinuation(&ev, rest)
	}
	levelFromText(&ev)
	p.serviceRule(&ev)
	emit(ev)
}

// serviceRule drops a service read from structured fields when the
// configuration does not read them (text headers are chosen in parseText).
func (p *Parser) serviceRule(ev *domain.Event) {
	if ev.Format != "text" && !p.Config.uses("fields") {
		ev.Service = ""
	}
}

// levelFromText gives a block with no level the one its text reports: a
// Go panic or fatal error is CRITICAL; an exception, a traceback or a
// stack is ERROR.
func levelFromText(ev *domain.Event) {
	if ev.Severity != domain.Default {
		return
	}
	m := ev.Message
	switch {
	case strings.HasPrefix(m, "panic: "), strings.HasPrefix(m, "fatal error: "):
		ev.Severity = domain.Critical
	case ev.Stack != "", strings.HasPrefix(m, "Traceback (most recent call last)"), strings.HasPrefix(m, "Exception in thread "),
		isJavaExceptionHeader(m):
		ev.Severity = domain.Error
	}
}

// ParseLine parses a single line, with no continuation handling.
func (p *Parser) ParseLine(line string) domain.Event { return p.parseLine(line) }

func (p *Parser) parseLine(line string) domain.Event {
	s := strings.TrimLeft(line, " \t")
	if len(s) > 0 && s[0] == '{' {
		if v, err := p.json.Parse(s); err == nil && v.Type() == fastjson.TypeObject {
			return p.fromObject(v, line)
		}
		ev := p.parseText(line)
		ev.ParseError = true
		return ev
	}
	if isCRI(s) {
		return p.parseCRI(s)
	}
	if looksLogfmt(s) {
		if ev, ok := parseLogfmt(s); ok {
			return ev
		}
	}
	return p.parseText(line)
}

func (p *Parser) parseJSONDocument(rec Record, text string, emit func(domain.Event)) {
	v, err := p.arr.Parse(text)
	if err != nil {
		// Not JSON after all: every line stays, as text.
		for i, l := range rec.Lines {
			ev := p.parseText(l)
			ev.Line = rec.Line + i
			ev.ParseError = true
			emit(ev)
		}
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		ev := p.fromObject(v, text)
		ev.Line, ev.Truncated = rec.Line, rec.Truncated
		levelFromText(&ev)
		p.serviceRule(&ev)
		emit(ev)
	case fastjson.TypeArray:
		for _, item := range v.GetArray() {
			var ev domain.Event
			if item.Type() == fastjson.TypeObject {
				ev = p.fromObject(item, "")
			} else {
				ev = domain.Event{Message: string(item.MarshalTo(nil)), Format: "json", ParseError: true}
			}
			ev.Line, ev.Truncated = rec.Line, rec.Truncated
			emit(ev)
		}
	default:
		ev := p.parseText(text)
		ev.Line, ev.ParseError = rec.Line, true
		emit(ev)
	}
}

// attachContinuation files the lines after the first as a stack trace when
// they look like one, and as detail otherwise.
func attachContinuation(ev *domain.Event, rest []string) {
	text := strings.Join(rest, "\n")
	if looksLikeStack(text) {
		if ev.Stack != "" {
			ev.Stack += "\n" + text
		} else {
			ev.Stack = text
		}
		return
	}
	ev.Detail = text
}

func looksLikeStack(s string) bool {
	return strings.Contains(s, "\tat ") || strings.Contains(s, "    at ") ||
		strings.Contains(s, "Traceback (most recent call last)") || strings.Contains(s, "File \"") ||
		strings.Contains(s, "goroutine ") || strings.Contains(s, ".go:") ||
		strings.Contains(s, "Caused by:") || strings.Contains(s, "Exception") || strings.Contains(s, "Error:")
}

// splitMessage separates a multi-line message into its first line and the
// rest (a stack trace printed into the message field, say).
func splitMessage(ev *domain.Event) {
	i := strings.IndexByte(ev.Message, '\n')
	if i < 0 {
		return
	}
	rest := strings.TrimRight(ev.Message[i+1:], "\n")
	ev.Message = strings.TrimRight(ev.Message[:i], "\r")
	if rest != "" {
		attachContinuation(ev, strings.Split(rest, "\n"))
	}
}
