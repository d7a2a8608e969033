package template

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/parse"
)

func TestZZLine(t *testing.T) {
	var p parse.Parser
	for _, l := range strings.Split(os.Getenv("LINES"), "\n") {
		ev := p.ParseLine(l)
		fmt.Printf("%q\n  svc=%q sev=%v time=%v msg=%q\n", l, ev.Service, ev.Severity, ev.Time, ev.Message)
	}
}
