package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

// queue is a subscription the replicas compete on, as they do on Pub/Sub.
type queue struct {
	ch    chan source.Message
	acked atomic.Int64
}

type queueReceiver struct{ q *queue }

func (r queueReceiver) Receive(ctx context.Context, deliver func(source.Message)) error {
	for {
		select {
		case m := <-r.q.ch:
			deliver(m)
		case <-ctx.Done():
			return nil
		}
	}
}

type nopPipeline struct{}

func (nopPipeline) Drain(context.Context) (int, bool, error) { return 0, false, nil }
func (nopPipeline) Stop()                                    {}

// BenchmarkReplicas measures messages per second through one, two and
// three agents sharing one PostgreSQL (merged detection, shared incidents,
// message keys), with the store's row-changing statements per second.
// Each op is the whole Zookeeper sample (2,000 messages).
//
//	go test -run '^$' -bench Replicas -benchtime 5x ./internal/postgres
func BenchmarkReplicas(b *testing.B) {
	f, err := os.Open(datasets.Path(b, "loghub", "Zookeeper", "Zookeeper_2k.log"))
	if err != nil {
		b.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	f.Close()
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			dsn := pgtest.DSN(b)
			q := &queue{ch: make(chan source.Message, 4096)}
			c := config.Default()
			d := envelope.DefaultOptions()
			d.Format = envelope.FormatAuto
			var stores []*postgres.Store
			var stops []func()
			for r := range n {
				st, err := postgres.Open(context.Background(), dsn, fmt.Sprintf("r%d", r))
				if err != nil {
					b.Fatal(err)
				}
				stores = append(stores, st)
				aud, err := st.OpenAudit(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				ag, err := agent.New(st, nopPipeline{}, aud, []agent.Source{{Name: "sub", Key: "sub", Service: "zk", Messages: queueReceiver{q}, Decode: d}},
					agent.Options{Redact: c.Redact, Template: c.Template, Detect: c.Detect, ReopenAfter: time.Hour, Replica: fmt.Sprintf("r%d", r),
						FlushEvery: time.Second, Poll: time.Second, ShutdownGrace: 5 * time.Second,
						Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					if err := ag.Run(ctx); err != nil {
						b.Error(err)
					}
					close(done)
				}()
				stops = append(stops, func() { cancel(); <-done; st.Close() })
			}
			defer func() {
				for _, s := range stops {
					s()
				}
			}()
			writes := func() (w int64) {
				for _, s := range stores {
					w += s.Writes()
				}
				return w
			}
			w0 := writes()
			id := 0
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for _, l := range lines {
					id++
					q.ch <- source.Message{ID: fmt.Sprint(id), Data: []byte(l), Ack: func() { q.acked.Add(1) }, Nack: func() {}}
				}
				want := int64((i + 1) * len(lines))
				for q.acked.Load() < want {
					time.Sleep(time.Millisecond)
				}
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N*len(lines))/el, "msgs/s")
			b.ReportMetric(float64(writes()-w0)/el, "writes/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
