package domain

import "time"

// Event is one log record after parsing: one line, or several when a stack
// trace or a pretty-printed JSON document was joined to it.
type Event struct {
	// Line is the 1-based number of the record's first input line.
	Line int
	// Time is when the event happened; zero when the input carried none.
	Time time.Time
	// Service names what produced the event (Cloud Run service, container,
	// syslog program...); empty when the input does not say.
	Service  string
	Severity Severity
	// Message is the human text of the event, one line, without its header.
	Message string
	// Detail holds continuation lines that are not a stack trace (a config
	// dump printed after its first line, say).
	Detail string
	// Stack is the stack trace that followed the event, if any.
	Stack string
	// Format names the parser that understood the record ("logentry",
	// "json", "logfmt", "docker", "text").
	Format string

	// Raw is the record's first line as it was read, before redaction:
	// the spine keeps a few (redacted) as the incident's samples, and it
	// is never stored or shown as is.
	Raw      string
	InsertID string
	Trace    string
	// Span is the span id the record carried with its trace.
	Span           string
	SourceLocation *SourceLocation
	// Labels are the monitored resource's labels (LogEntry resource.type
	// as "resource_type", and resource.labels), when the log has them.
	Labels map[string]string
	// HTTPStatus is the response status of an httpRequest, 0 when absent.
	HTTPStatus int
	// Truncated is set when an input line was cut at the size limit.
	Truncated bool
	// ParseError is set when the record looked structured but did not parse;
	// the event then carries the raw text so nothing is lost.
	ParseError bool
}

// SourceLocation is where in the code the event was logged.
type SourceLocation struct {
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Function string `json:"function,omitempty"`
}
