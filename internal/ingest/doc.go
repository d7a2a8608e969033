// Package ingest is the spine's one-way path: records are parsed, redacted,
// templated and run through detection, and the error events detection
// flags become incidents, one per problem: templates and services that
// turn anomalous together are grouped (episodes.go), an incident's episodes
// resolve after a quiet period and recur on the same fingerprint, and lone
// CRITICAL lines are held until they recur (held.go).
package ingest
