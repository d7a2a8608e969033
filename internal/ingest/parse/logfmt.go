package parse

import (
	"strings"

	"github.com/go-logfmt/logfmt"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// looksLogfmt: the line opens with key=value.
func looksLogfmt(s string) bool {
	for i := 0; i < len(s) && i < 40; i++ {
		c := s[i]
		if c == '=' {
			return i > 0
		}
		if !(isAlnum(c) || c == '_' || c == '.' || c == '-' || c == '@') {
			return false
		}
	}
	return false
}

func parseLogfmt(s string) (domain.Event, bool) {
	ev := domain.Event{Format: "logfmt"}
	dec := logfmt.NewDecoder(strings.NewReader(s))
	pairs := 0
	var msg, errText string
	if dec.ScanRecord() { // one record per line
		for dec.ScanKeyval() {
			pairs++
			k, v := string(dec.Key()), string(dec.Value())
			switch k {
			case "level", "lvl", "severity", "loglevel":
				if sev, ok := domain.ParseSeverity(v); ok {
					ev.Severity = sev
				}
			case "msg", "message":
				msg = v
			case "error", "err":
				errText = v
			case "time", "ts", "timestamp", "t":
				ev.Time = parseTime(v)
			case "service", "app", "application", "component", "logger":
				if ev.Service == "" {
					ev.Service = v
				}
			case "trace_id", "traceID", "trace":
				ev.Trace = v
			}
		}
	}
	if dec.Err() != nil || pairs < 2 {
		return domain.Event{}, false
	}
	switch {
	case msg != "" && errText != "":
		ev.Message = msg + ": " + errText
	case msg != "":
		ev.Message = msg
	case errText != "":
		ev.Message = errText
	default:
		ev.Message = s
	}
	return ev, true
}

// isCRI matches the CRI container log format:
// "2016-10-06T00:17:09.669794202Z stdout F message".
func isCRI(s string) bool {
	if len(s) < 32 || s[4] != '-' || s[10] != 'T' {
		return false
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 20 || sp > 40 {
		return false
	}
	rest := s[sp+1:]
	return (strings.HasPrefix(rest, "stdout ") || strings.HasPrefix(rest, "stderr ")) &&
		len(rest) >= 9 && (rest[7] == 'F' || rest[7] == 'P') && rest[8] == ' '
}

func (p *Parser) parseCRI(s string) domain.Event {
	sp := strings.IndexByte(s, ' ')
	t := parseTime(s[:sp])
	inner := s[sp+10:]
	ev := p.child().parseLine(inner)
	if ev.Time.IsZero() {
		ev.Time = t
	}
	ev.Format = "cri"
	return ev
}
