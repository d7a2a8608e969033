// Package parse turns raw log records into domain events. The format is
// detected per record: Cloud Logging LogEntry JSON (one per line, pretty
// printed, or a JSON array), Docker and CRI container lines, generic JSON,
// logfmt, and plain text with the common headers (ISO and syslog timestamps,
// klog/glog, log4j/logback, Python logging, Apache and nginx). Input that
// cannot be parsed becomes a plain-text event flagged ParseError: parsing is
// never fatal and never drops a record.
package parse
