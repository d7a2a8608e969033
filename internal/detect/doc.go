// Package detect decides, per service and in event time, which error events
// are incidents: a burst of errors over a sliding window, an error template
// never seen before, a spike of a template against its own baseline, and
// fatal/panic/crash signatures.
//
// Windows are rings of a fixed number of buckets, so the cost per event does
// not grow with the window length.
package detect
