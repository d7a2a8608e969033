// Package detect decides, per service and in event time, which error events
// show a change: the service's error ratio over a short and a long window
// well above its own baseline (a fixed ratio on a cold start), an error
// template first seen after the service's warm-up, a template spiking
// against its own baseline, a crash signature, recurring CRITICAL lines.
// It also reads a line's error class the way a person would (errorclass.go:
// "errors=0" is no failure, a register dump is detail). docs/DETECTION.md
// explains the rules and their knobs.
//
// Windows are rings of a fixed number of buckets, so the cost per event does
// not grow with the window length.
package detect
