package domain

import (
	"strconv"
	"strings"
)

// Frame is one call site of a stack trace, as internal/stack reads it.
type Frame struct {
	Function string `json:"function,omitempty"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Lang     string `json:"lang"`
	// InApp is false for runtime, standard library and third-party frames.
	InApp bool `json:"in_app"`
}

// String renders the frame as file:line (function).
func (f Frame) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Line))
	}
	if f.Function != "" {
		b.WriteString(" (")
		b.WriteString(f.Function)
		b.WriteByte(')')
	}
	return b.String()
}
