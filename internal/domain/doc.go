// Package domain holds the agent's core types: a log event, its severity, a
// template, an incident and its fingerprint, and the records a run of the
// pipeline keeps for an incident (the stages' answers, the evidence a
// model is shown, the proposal delivery gets, the gate's decision, the
// validation, the delivery). It does no I/O so every other package can
// depend on it without pulling in the outside world.
package domain
