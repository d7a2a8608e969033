package mcpserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// BenchmarkTools calls the tools an assistant calls most, through the
// SDK's client and server (in memory), over a SQLite store of 10,000
// incidents: a page of 50, a text search, one incident with its run, a
// report resource. Each call is an audit record (fsynced).
//
//	go test -run '^$' -bench Tools -benchtime 50x ./internal/mcpserver
func BenchmarkTools(b *testing.B) {
	f := seeded(b)
	var incs []domain.Incident
	for i := range 10_000 {
		incs = append(incs, domain.Incident{Fingerprint: domain.Fingerprint(fmt.Sprintf("load%016d", i)), Service: fmt.Sprintf("svc-%d", i%20),
			Severity: domain.Error, State: domain.StateNew, Count: int64(i), FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Second),
			Templates: []domain.Template{{ID: domain.TemplateID(fmt.Sprintf("tl%d", i%50)), Text: fmt.Sprintf("request to <*> failed after <*> ms (%d)", i%50), Count: int64(i)}},
			Samples:   []string{fmt.Sprintf("request to 10.0.0.%d:8080 failed after %d ms", i%250, i)}})
	}
	if err := f.store.Save(context.Background(), "bench", nil, incs); err != nil {
		b.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := f.srv.Connect(ctx, st, nil); err != nil {
		b.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	for _, c := range []struct {
		name string
		args map[string]any
	}{
		{"list_incidents", map[string]any{"limit": 50}},
		{"list_incidents", map[string]any{"text": "failed after 4242 ms", "limit": 50}},
		{"get_incident", map[string]any{"id": "aaaa1111"}},
	} {
		b.Run(fmt.Sprintf("%s%v", c.name, c.args), func(b *testing.B) {
			for b.Loop() {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.name, Arguments: c.args})
				if err != nil || res.IsError {
					b.Fatal(err, res)
				}
			}
		})
	}
	b.Run("incident://", func(b *testing.B) {
		for b.Loop() {
			if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "incident://aaaa1111bbbb2222cccc"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
