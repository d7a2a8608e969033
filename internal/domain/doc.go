// Package domain holds the agent's core types: a log event, its severity, a
// template, an incident and its fingerprint. It does no I/O so every other
// package can depend on it without pulling in the outside world.
package domain
