// Package scenario generates log streams with known problems in them, and
// scores what detection made of them. A stream has several services with
// a steady background of errors (the kind every production service has)
// and ground-truth episodes: one service's error rate jumping, every
// service failing on a shared dependency, a crash loop, a burst and a slow
// trickle of CRITICAL lines, a moderate degradation, and one of a
// service's everyday errors surging with no new text at all. The scorer matches the
// incidents `sre-agent analyze --json --lines` reports against them.
package scenario

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Episode is one ground-truth problem: its services, its span in event
// time, and the input lines it wrote.
type Episode struct {
	Name     string    `json:"name"`
	Services []string  `json:"services"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Lines    []int     `json:"lines"`
}

// Config shapes a stream.
type Config struct {
	Seed     uint64
	Start    time.Time
	Duration time.Duration
	// PerSecond is each service's events a second.
	PerSecond int
	// Background is the share of a service's events that are errors in
	// normal times.
	Background float64
	// Format is "json" (Cloud Logging LogEntry lines) or "text"
	// ("TS LEVEL service[pid]: message").
	Format string
}

// DefaultConfig is an hour of six services at 20 events a second each
// (432,000 lines) with 4% background errors.
func DefaultConfig() Config {
	return Config{Seed: 1, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Duration: time.Hour,
		PerSecond: 20, Background: 0.04, Format: "json"}
}

// Services are the stream's services.
var Services = []string{"checkout", "orders", "inventory", "payments", "search", "users"}

// an event before it is written.
type event struct {
	at      time.Time
	service string
	level   string
	msg     string
	episode int // index into the episodes, or -1
}

// window is one episode's plan: who, when, what it writes.
type window struct {
	name     string
	services []string
	from, to time.Duration // offsets from the start
	// errShare replaces the background error share of its services.
	errShare float64
	errMsg   func(r *rand.Rand, svc string) string
	// extra events it writes besides (crash blocks, CRITICAL lines).
	extra func(r *rand.Rand, add func(at time.Duration, svc, level, msg string))
}

// Generate writes the stream to w and returns its episodes.
func Generate(w io.Writer, cfg Config) ([]Episode, error) {
	if cfg.Format != "json" && cfg.Format != "text" {
		return nil, fmt.Errorf("scenario: format %q: want json or text", cfg.Format)
	}
	if cfg.Duration < 40*time.Minute {
		return nil, fmt.Errorf("scenario: duration %v: want at least 40m (the episodes are placed in it)", cfg.Duration)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	plan := plan(cfg.Duration)
	var evs []event
	step := time.Second / time.Duration(max(cfg.PerSecond, 1))
	for t := time.Duration(0); t < cfg.Duration; t += step {
		for _, svc := range Services {
			at := t + time.Duration(r.Int64N(int64(step)))
			share, msg, ep := cfg.Background, "", -1
			for i, win := range plan {
				if win.errMsg != nil && at >= win.from && at < win.to && slices.Contains(win.services, svc) {
					share, ep = win.errShare, i
					if r.Float64() < share {
						msg = win.errMsg(r, svc)
					}
				}
			}
			switch {
			case msg != "":
				evs = append(evs, event{at: cfg.Start.Add(at), service: svc, level: "ERROR", msg: msg, episode: ep})
			case ep < 0 && r.Float64() < share:
				evs = append(evs, event{at: cfg.Start.Add(at), service: svc, level: "ERROR", msg: backgroundError(r, svc), episode: -1})
			case ep >= 0 && r.Float64() < cfg.Background*(1-share):
				// The background goes on under an episode.
				evs = append(evs, event{at: cfg.Start.Add(at), service: svc, level: "ERROR", msg: backgroundError(r, svc), episode: -1})
			default:
				lvl, m := normal(r, svc)
				evs = append(evs, event{at: cfg.Start.Add(at), service: svc, level: lvl, msg: m, episode: -1})
			}
		}
	}
	for i, win := range plan {
		if win.extra == nil {
			continue
		}
		win.extra(r, func(at time.Duration, svc, level, msg string) {
			evs = append(evs, event{at: cfg.Start.Add(win.from + at), service: svc, level: level, msg: msg, episode: i})
		})
	}
	// Isolated CRITICAL lines in normal times: recorded, never incidents.
	for _, off := range []time.Duration{7 * time.Minute, 33 * time.Minute, 58 * time.Minute} {
		if off < cfg.Duration {
			evs = append(evs, event{at: cfg.Start.Add(off), service: Services[int(off/time.Minute)%len(Services)], level: "CRITICAL",
				msg: fmt.Sprintf("certificate for api-%d.internal expires in 14 days", r.IntN(9)), episode: -1})
		}
	}
	sortEvents(evs)

	episodes := make([]Episode, len(plan))
	for i, win := range plan {
		episodes[i] = Episode{Name: win.name, Services: win.services, Start: cfg.Start.Add(win.from), End: cfg.Start.Add(win.to)}
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	line := 0
	for _, ev := range evs {
		n, err := writeEvent(bw, cfg.Format, ev)
		if err != nil {
			return nil, err
		}
		if ev.episode >= 0 {
			for k := 1; k <= n; k++ {
				episodes[ev.episode].Lines = append(episodes[ev.episode].Lines, line+k)
			}
		}
		line += n
	}
	return episodes, bw.Flush()
}

// plan places the episodes, none in the first ten minutes (a cold start
// learns) and with quiet between them.
func plan(d time.Duration) []window {
	m := func(x float64) time.Duration { return time.Duration(x * float64(time.Minute)) }
	scale := float64(d) / float64(time.Hour)
	at := func(x float64) time.Duration { return m(x * scale) }
	return []window{
		{name: "one service's errors jump", services: []string{"checkout"}, from: at(10), to: at(10) + m(3), errShare: 1,
			errMsg: func(r *rand.Rand, svc string) string {
				return fmt.Sprintf("charge order %d: upstream payments returned 503 Service Unavailable", r.IntN(1e6))
			}},
		{name: "shared database down", services: Services, from: at(17), to: at(17) + m(4), errShare: 0.8,
			errMsg: func(r *rand.Rand, svc string) string {
				return fmt.Sprintf("%s: load %s %d: dial tcp 10.20.3.7:5432: connect: connection refused", svc, strings.TrimSuffix(svc, "s"), r.IntN(1e6))
			}},
		{name: "crash loop", services: []string{"inventory"}, from: at(25), to: at(25) + m(5),
			extra: func(r *rand.Rand, add func(time.Duration, string, string, string)) {
				for s := time.Duration(0); s < m(5); s += 20 * time.Second {
					add(s, "inventory", "", "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a5f3c]\n\ngoroutine 42 [running]:\nmain.(*Stock).Reserve(0x0, {0xc000123000, 0x8})\n\t/app/stock.go:88 +0x1c\nmain.handleReserve({0x7f3a, 0xc0001a2000}, 0xc00019e000)\n\t/app/http.go:41 +0x9f\ncreated by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3285 +0x4b4")
					add(s+2*time.Second, "inventory", "INFO", fmt.Sprintf("starting inventory v1.14.%d on :8080", r.IntN(3)))
				}
			}},
		{name: "burst of CRITICAL lines", services: []string{"payments"}, from: at(33) + m(2), to: at(33) + m(3),
			extra: func(r *rand.Rand, add func(time.Duration, string, string, string)) {
				for i := range 20 {
					add(time.Duration(i)*3*time.Second, "payments", "CRITICAL", fmt.Sprintf("ledger volume /var/lib/ledger is full (%d%% used), writes rejected", 100-r.IntN(2)))
				}
			}},
		{name: "slow trickle of CRITICAL lines", services: []string{"users"}, from: at(38), to: at(38) + m(12),
			extra: func(r *rand.Rand, add func(time.Duration, string, string, string)) {
				for s := time.Duration(0); s < m(12); s += 2 * time.Minute {
					add(s, "users", "CRITICAL", fmt.Sprintf("replication lag on replica users-db-2 is %ds, above the 300s limit", 300+r.IntN(400)))
				}
			}},
		{name: "moderate degradation", services: []string{"search"}, from: at(45), to: at(45) + m(10), errShare: 0.3,
			errMsg: func(r *rand.Rand, svc string) string {
				return fmt.Sprintf("query %d to recommendations failed: context deadline exceeded after %dms", r.IntN(1e6), 800+r.IntN(400))
			}},
		// No new text at all: one of the service's everyday errors, at
		// 60% of its events instead of a few percent.
		{name: "a known error surges", services: []string{"orders"}, from: at(56), to: at(56) + m(3), errShare: 0.6,
			errMsg: func(r *rand.Rand, svc string) string {
				return fmt.Sprintf("upstream %s-cache timed out after %dms, serving stale entry", svc, 200+r.IntN(100))
			}},
	}
}

// backgroundError is one of a service's everyday errors.
func backgroundError(r *rand.Rand, svc string) string {
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("request %08x from user %d rejected: invalid coupon code", r.Uint32(), r.IntN(1e5))
	case 1:
		return fmt.Sprintf("upstream %s-cache timed out after %dms, serving stale entry", svc, 200+r.IntN(100))
	default:
		return fmt.Sprintf("client %d.%d.%d.%d closed connection before response was written", 10, r.IntN(255), r.IntN(255), 1+r.IntN(254))
	}
}

// normal is everyday traffic, some of it with error words that report no
// failure.
func normal(r *rand.Rand, svc string) (string, string) {
	switch r.IntN(6) {
	case 0:
		return "INFO", fmt.Sprintf("processed batch size=%d errors=0 in %dms", 50+r.IntN(100), r.IntN(90))
	case 1:
		return "DEBUG", fmt.Sprintf("cache lookup key=%s:%d hit=true", svc, r.IntN(1e6))
	case 2:
		return "INFO", fmt.Sprintf(`request done {"status": 200, "error": null, "path": "/api/%s/%d", "ms": %d}`, svc, r.IntN(1e4), r.IntN(300))
	default:
		return "INFO", fmt.Sprintf("GET /api/%s/%d 200 %dms user=%d", svc, r.IntN(1e4), r.IntN(300), r.IntN(1e5))
	}
}

// sortEvents orders by time, stably.
func sortEvents(evs []event) {
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
}

// writeEvent writes one event and reports how many lines it took.
func writeEvent(w *bufio.Writer, format string, ev event) (int, error) {
	if format == "json" {
		e := map[string]any{
			"timestamp": ev.at.Format(time.RFC3339Nano),
			"logName":   "projects/shop/logs/run.googleapis.com%2Fstdout",
			"resource":  map[string]any{"type": "cloud_run_revision", "labels": map[string]string{"service_name": ev.service}},
		}
		if ev.level != "" {
			e["severity"] = ev.level
		}
		e["textPayload"] = ev.msg
		b, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		w.Write(b)
		w.WriteByte('\n')
		return 1, nil
	}
	pid := 1000 + len(ev.service)*37
	lines := strings.Split(ev.msg, "\n")
	if ev.level == "" {
		// A crash as the runtime prints it: no header, no level.
		for _, l := range lines {
			w.WriteString(l)
			w.WriteByte('\n')
		}
		return len(lines), nil
	}
	fmt.Fprintf(w, "%s %s %s[%d]: %s\n", ev.at.Format("2006-01-02T15:04:05.000Z07:00"), ev.level, ev.service, pid, lines[0])
	for _, l := range lines[1:] {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	return len(lines), nil
}
