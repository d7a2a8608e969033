// Package ingest is the spine's one-way path: records are parsed, redacted,
// templated and run through detection, and error events that detection
// flags are folded into incidents keyed by service and template.
package ingest
