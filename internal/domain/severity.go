package domain

import "strconv"

// Severity follows Cloud Logging's LogSeverity: the numbers are the ones a
// LogEntry carries, so a numeric severity ("200.0") maps without a table.
type Severity int

const (
	Default   Severity = 0
	Debug     Severity = 100
	Info      Severity = 200
	Notice    Severity = 300
	Warning   Severity = 400
	Error     Severity = 500
	Critical  Severity = 600
	Alert     Severity = 700
	Emergency Severity = 800
)

var severityNames = [...]string{"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}

// String returns the Cloud Logging name of the severity.
func (s Severity) String() string {
	if s < 0 {
		return "DEFAULT"
	}
	i := int(s) / 100
	if i >= len(severityNames) {
		i = len(severityNames) - 1
	}
	return severityNames[i]
}

// MarshalText lets JSON output carry the name rather than the number.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts any name or number ParseSeverity accepts.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return &strconv.NumError{Func: "ParseSeverity", Num: string(b), Err: strconv.ErrSyntax}
	}
	*s = v
	return nil
}

// ParseSeverity maps the level names used by Cloud Logging, syslog, log4j,
// Python, Go and others, and numeric Cloud Logging severities, onto Severity.
// It reports false for text that is not a level.
func ParseSeverity(s string) (Severity, bool) {
	if s == "" || len(s) > 16 {
		return Default, false
	}
	if c := s[0]; c >= '0' && c <= '9' {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1000 {
			return Default, false
		}
		v := Severity(int(f) / 100 * 100)
		if v > Emergency {
			v = Emergency
		}
		return v, true
	}
	var buf [16]byte
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b) {
	case "DEFAULT":
		return Default, true
	case "TRACE", "DEBUG", "DBG", "FINE", "FINER", "FINEST", "VERBOSE":
		return Debug, true
	case "INFO", "INF", "INFORMATION", "INFORMATIONAL", "CONFIG":
		return Info, true
	case "NOTICE":
		return Notice, true
	case "WARN", "WARNING", "WRN":
		return Warning, true
	case "ERROR", "ERR", "EROR", "SEVERE", "FAILURE":
		return Error, true
	case "CRITICAL", "CRIT", "FATAL", "FTL", "PANIC", "DPANIC":
		return Critical, true
	case "ALERT":
		return Alert, true
	case "EMERGENCY", "EMERG":
		return Emergency, true
	}
	return Default, false
}

// SyslogSeverity maps a syslog/journald PRIORITY (0..7) onto Severity.
func SyslogSeverity(p int) Severity {
	switch {
	case p <= 0:
		return Emergency
	case p == 1:
		return Alert
	case p == 2:
		return Critical
	case p == 3:
		return Error
	case p == 4:
		return Warning
	case p == 5:
		return Notice
	case p == 6:
		return Info
	default:
		return Debug
	}
}

// IsLevelWord reports whether an upper-case token is a level name; header
// parsers use it to find the level in a plain-text line.
func IsLevelWord(tok string) bool {
	if tok == "" || (tok[0] >= '0' && tok[0] <= '9') {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c >= 'a' && c <= 'z' {
			return false
		}
	}
	_, ok := ParseSeverity(tok)
	return ok
}
