package parse

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

func parseAll(t testing.TB, r io.Reader) []domain.Event {
	t.Helper()
	var p Parser
	var out []domain.Event
	a := NewAssembler(r)
	for {
		rec, err := a.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Parse(rec, func(e domain.Event) { out = append(out, e) })
	}
}

func parseFile(t testing.TB, path string) []domain.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return parseAll(t, f)
}

// Each Ops Agent fixture pairs an input log with the LogEntry Google's agent
// makes of it; the parser must find the same severity and message.
func TestOpsAgentFixtures(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(datasets.Path(t, "cloud/gcp-logentry/ops-agent-fixtures"), "*"))
	if len(dirs) == 0 {
		t.Fatal("no fixtures found")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var want []struct {
				Entries []map[string]any `yaml:"entries"`
			}
			b, err := os.ReadFile(filepath.Join(dir, "output_fluentbit.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			// Blank input lines become empty entries in the agent's output;
			// this parser drops blank lines, which carry nothing.
			var entries []map[string]any
			for _, e := range want[0].Entries {
				if jp, ok := e["jsonPayload"].(map[string]any); ok && len(jp) == 1 && jp["message"] == "" {
					continue
				}
				entries = append(entries, e)
			}
			got := parseFile(t, filepath.Join(dir, "input.log"))
			// Fluent Bit's multi-line parsers hold the last record of a file
			// until more input arrives, so a fixture may lack the final one.
			if len(got) != len(entries) && len(got) != len(entries)+1 {
				t.Fatalf("parsed %d events, fixture has %d entries", len(got), len(entries))
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "input.log"))
			rawLines := strings.Split(string(raw), "\n")
			for i, e := range entries {
				ev := got[i]
				// Where the agent's own regex failed it keeps the raw line
				// as the message and sets no severity; this parser reads the
				// header there, so only the message is compared.
				jpe, _ := e["jsonPayload"].(map[string]any)
				if m, _ := jpe["message"].(string); m != "" && strings.TrimSpace(m) == strings.TrimSpace(rawLines[ev.Line-1]) {
					if !strings.Contains(m, ev.Message) {
						t.Errorf("entry %d: message %q not in %q", i, ev.Message, m)
					}
					continue
				}
				wantSev := domain.Default
				jp, _ := e["jsonPayload"].(map[string]any)
				if s, ok := e["severity"]; ok {
					wantSev = domain.Severity(int(s.(float64)))
				} else if lv, ok := jp["level"].(string); ok {
					// The agent leaves a JSON level unmapped; this parser maps it.
					wantSev, _ = domain.ParseSeverity(lv)
				} else if hr, ok := e["httpRequest"].(map[string]any); ok && hr["status"].(float64) >= 500 {
					wantSev = domain.Error // our rule: a 5xx response is an error
				}
				if ev.Severity != wantSev {
					t.Errorf("entry %d (line %d): severity %s, want %s", i, ev.Line, ev.Severity, wantSev)
				}
				msg, _ := jp["message"].(string)
				if msg == "" {
					continue
				}
				first := strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0])
				gotMsg := strings.TrimSpace(ev.Message)
				if !strings.Contains(gotMsg, first) && !strings.Contains(first, gotMsg) || gotMsg == "" {
					t.Errorf("entry %d: message %q, want %q", i, gotMsg, first)
				}
			}
		})
	}
}

func TestLogEntryFixturesParseFully(t *testing.T) {
	tests := []struct {
		file     string
		sev      domain.Severity
		service  string
		insertID string
		inMsg    string
		status   int
	}{
		{"cloud-run-real_log.json", domain.Error, "otelcol", "663760330006df7c63521728", "GET https://example.a.run.app/ 503", 503},
		{"LogEntryData-pubsubCreateTopic.json", domain.Notice, "pubsub.googleapis.com", "9frck8cf9j", "google.pubsub.v1.Publisher.CreateTopic on projects/test-project/topics/test-auditlogs-source by robot@test-project.iam.gserviceaccount.com", 0},
		{"LogEntryData-bigqueryjobcompleted.json", domain.Info, "bigquery.googleapis.com", "jpllvgecd7bx", "jobservice.jobcompleted", 0},
		{"LogEntryData-monitoringCreateTimeSeries.json", domain.Info, "monitoring.googleapis.com", "", "google.monitoring.v3.MetricService.CreateTimeSeries", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			evs := parseFile(t, datasets.Path(t, "cloud/gcp-logentry", tt.file))
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Format != "logentry" || ev.ParseError {
				t.Errorf("format %q parseError %v", ev.Format, ev.ParseError)
			}
			if ev.Severity != tt.sev || ev.Service != tt.service || ev.HTTPStatus != tt.status {
				t.Errorf("got sev %s service %q status %d", ev.Severity, ev.Service, ev.HTTPStatus)
			}
			if tt.insertID != "" && ev.InsertID != tt.insertID {
				t.Errorf("insertId %q, want %q", ev.InsertID, tt.insertID)
			}
			if !strings.Contains(ev.Message, tt.inMsg) {
				t.Errorf("message %q lacks %q", ev.Message, tt.inMsg)
			}
			if ev.Time.IsZero() {
				t.Error("no timestamp")
			}
			if tt.file == "cloud-run-real_log.json" && (ev.Trace != "projects/gcp-project/traces/1dbe317eb73eb6e3bbb51a2bc3a41e09" || ev.Span != "3e3a5741b18f0710") {
				t.Errorf("trace %q span %q", ev.Trace, ev.Span)
			}
		})
	}
}

// Structured logs name the trace and span with Cloud Logging's special
// fields, or OpenTelemetry's trace_id and span_id.
func TestTraceAndSpanOfStructuredLogs(t *testing.T) {
	for line, want := range map[string][2]string{
		`{"severity":"ERROR","message":"x","logging.googleapis.com/trace":"projects/p/traces/abc","logging.googleapis.com/spanId":"0123"}`: {"projects/p/traces/abc", "0123"},
		`{"level":"error","msg":"x","trace_id":"4bf92f35","span_id":"00f067aa"}`:                                                           {"4bf92f35", "00f067aa"},
		`{"level":"error","msg":"x"}`: {"", ""},
	} {
		var p Parser
		ev := p.ParseLine(line)
		if ev.Trace != want[0] || ev.Span != want[1] {
			t.Errorf("%s: trace %q span %q", line, ev.Trace, ev.Span)
		}
	}
}

func TestParseLineFormats(t *testing.T) {
	tests := []struct {
		name, line string
		sev        domain.Severity
		service    string
		msg        string
		format     string
	}{
		{"logentry text", `{"textPayload":"boom","severity":"ERROR","resource":{"type":"k8s_container","labels":{"container_name":"api"}},"timestamp":"2024-01-01T00:00:00Z"}`, domain.Error, "api", "boom", "logentry"},
		{"logentry numeric severity", `{"jsonPayload":{"msg":"slow"},"severity":400.0,"logName":"x"}`, domain.Warning, "", "slow", "logentry"},
		{"logentry emergency", `{"textPayload":"x","severity":"EMERGENCY","logName":"l"}`, domain.Emergency, "", "x", "logentry"},
		{"logentry function", `{"textPayload":"cold start","severity":"DEFAULT","resource":{"type":"cloud_function","labels":{"function_name":"fn1"}},"insertId":"a"}`, domain.Default, "fn1", "cold start", "logentry"},
		{"logentry audit failure", `{"protoPayload":{"methodName":"storage.objects.get","status":{"code":7,"message":"denied"},"authenticationInfo":{"principalEmail":"a@b.com"}},"logName":"x"}`, domain.Error, "", "storage.objects.get by a@b.com failed: code=7 denied", "logentry"},
		{"logentry http 5xx", `{"httpRequest":{"status":502,"requestMethod":"POST","requestUrl":"/api?token=x"},"logName":"x"}`, domain.Error, "", "POST /api 502", "logentry"},
		{"logentry k8s label", `{"textPayload":"x","labels":{"k8s-pod/app":"cart"},"resource":{"type":"k8s_container","labels":{}},"logName":"l"}`, domain.Default, "cart", "x", "logentry"},
		{"generic json", `{"level":"warn","msg":"disk low","service":"db"}`, domain.Warning, "db", "disk low", "json"},
		{"generic json error key", `{"severity":"error","message":"save failed","error":"EOF","app":"web"}`, domain.Error, "web", "save failed: EOF", "json"},
		{"json k8s labels", `{"level":"info","msg":"ok","kubernetes":{"labels":{"app":"cart"}}}`, domain.Info, "cart", "ok", "json"},
		{"docker", `{"log":"ERROR failed to connect\n","stream":"stderr","time":"2018-09-19T18:58:22.13487728Z"}`, domain.Error, "", "failed to connect", "docker"},
		{"cri", `2016-10-06T00:17:09.669794202Z stderr F level=error msg="oops" app=x`, domain.Error, "x", "oops", "cri"},
		{"logfmt", `time="2021-09-15T21:17:10Z" level=error msg="pod not found" service=vk`, domain.Error, "vk", "pod not found", "logfmt"},
		{"iso log4j", `2015-10-18 18:01:47,978 ERROR [main] org.apache.Foo: connection refused`, domain.Error, "", "connection refused", "text"},
		{"syslog", `Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=1.2.3.4`, domain.Default, "sshd", "authentication failure; rhost=1.2.3.4", "text"},
		{"klog", `E0517 15:04:22.619632 1952452992 server.go:253] listen failed`, domain.Error, "", "listen failed", "text"},
		{"python", `2023-01-01 12:00:00,123 - app.db - ERROR - query failed`, domain.Error, "", "query failed", "text"},
		{"python basic", `ERROR:root:something broke`, domain.Error, "", "something broke", "text"},
		{"plain", `just some words`, domain.Default, "", "just some words", "text"},
		{"one-letter word", `I think the disk is full`, domain.Default, "", "I think the disk is full", "text"},
		{"one-letter word after time", `2024-01-01 10:00:00 I think so`, domain.Info, "", "think so", "text"},
		{"android", `03-17 16:13:38.811  1702  2395 E WindowManager: boom`, domain.Error, "", "boom", "text"},
		{"broken json", `{"level":"error", "msg": "unterminated`, domain.Default, "", `{"level":"error", "msg": "unterminated`, "text"},
	}
	var p Parser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := p.ParseLine(tt.line)
			if ev.Severity != tt.sev || ev.Service != tt.service || ev.Message != tt.msg || ev.Format != tt.format {
				t.Errorf("got sev=%s service=%q msg=%q format=%s\nwant sev=%s service=%q msg=%q format=%s",
					ev.Severity, ev.Service, ev.Message, ev.Format, tt.sev, tt.service, tt.msg, tt.format)
			}
		})
	}
}

func TestBrokenJSONIsKeptAndFlagged(t *testing.T) {
	var p Parser
	ev := p.ParseLine(`{"level":"error", "msg": "unterminated`)
	if !ev.ParseError {
		t.Error("ParseError not set")
	}
}

func TestMultilineJoining(t *testing.T) {
	in := strings.Join([]string{
		"2024-01-01 10:00:00,000 ERROR [main] com.acme.Job: job failed",
		"java.lang.IllegalStateException: bad state",
		"\tat com.acme.Job.run(Job.java:42)",
		"Caused by: java.io.IOException: disk",
		"\t... 3 more",
		"2024-01-01 10:00:01,000 INFO [main] com.acme.Job: next",
		"Traceback (most recent call last):",
		`  File "app.py", line 3, in <module>`,
		"ValueError: nope",
		"panic: runtime error: index out of range",
		"",
		"goroutine 1 [running]:",
		"main.main()",
		"\t/src/main.go:5 +0x1d",
		"exit status 2",
		"[",
		`  {"textPayload": "a", "logName": "x"},`,
		`  {"textPayload": "b", "logName": "x"}`,
		"]",
		"{",
		`  "textPayload": "c",`,
		`  "severity": "ERROR", "logName": "x"`,
		"}",
		"last line\r",
	}, "\n")
	evs := parseAll(t, strings.NewReader(in))
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	want := []string{"job failed", "next", "panic: runtime error: index out of range", "a", "b", "c", "last line"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("messages\n got %q\nwant %q", msgs, want)
	}
	if !strings.Contains(evs[0].Stack, "Caused by: java.io.IOException") || !strings.Contains(evs[0].Stack, "Job.java:42") {
		t.Errorf("java stack not joined: %q", evs[0].Stack)
	}
	if !strings.Contains(evs[1].Stack, "ValueError: nope") {
		t.Errorf("python traceback not joined to the event before it: %q", evs[1].Stack)
	}
	if !strings.Contains(evs[2].Stack, "main.go:5") || evs[2].Line != 10 {
		t.Errorf("go panic: stack %q line %d", evs[2].Stack, evs[2].Line)
	}
	if evs[5].Severity != domain.Error || evs[3].Line != 16 {
		t.Errorf("json documents: %+v", evs[3:6])
	}
}

func TestUnterminatedJSONLosesNothing(t *testing.T) {
	in := "[\nnot json\nstill not\n"
	evs := parseAll(t, strings.NewReader(in))
	if len(evs) != 3 {
		t.Fatalf("got %d events, want every line kept: %+v", len(evs), evs)
	}
}

func TestLongLineIsTruncated(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+100)
	in := "first\n" + long + "\nlast\n"
	a := NewAssembler(strings.NewReader(in))
	var recs []Record
	for {
		r, err := a.Next()
		if err != nil {
			break
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 || !recs[1].Truncated || recs[2].Lines[0] != "last" {
		t.Fatalf("records: %d, truncated=%v", len(recs), len(recs) > 1 && recs[1].Truncated)
	}
	if got := len(recs[1].Lines[0]); got != MaxLineBytes+len(TruncatedMarker) {
		t.Errorf("truncated line is %d bytes", got)
	}
	if a.TruncatedLines() != 1 {
		t.Errorf("TruncatedLines = %d", a.TruncatedLines())
	}
}

// Every shared sample parses without a panic and keeps every line.
func TestSharedSamplesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(datasets.Path(t, "samples"), "*"))
	more, _ := filepath.Glob(filepath.Join(datasets.Path(t, "loghub"), "*", "*_2k.log"))
	files = append(files, more...)
	for _, f := range files {
		evs := parseFile(t, f)
		if len(evs) == 0 {
			t.Errorf("%s: no events", f)
		}
		for _, e := range evs {
			if e.Message == "" {
				t.Errorf("%s line %d: empty message", f, e.Line)
				break
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"textPayload":"x","severity":"ERROR"}`, `[{"a":1}]`, "{\n\"a\": 1\n}", `level=error msg=x`,
		"2015-10-18 18:01:47,978 INFO [main] x: y", "panic: x\n\ngoroutine 1 [running]:\nmain.main()",
		"E0517 15:04:22.619632 1 a.cc:1] m", `{"log":"{\"msg\":\"x\"}\n","stream":"stderr"}`,
		"Nov 20, 2026 9:00:01 AM a.B c\nSEVERE: x", "Traceback (most recent call last):\n  File \"a\", line 1\nValueError: x",
		"Nov 20 09:00:01 h p[1]: m", "[svc] 2026-11-20 09:00:01 ERROR m", "2026-11-20T09:00:01Z ERROR svc[1]: m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		evs := parseAll(t, strings.NewReader(s))
		lines := strings.Count(s, "\n") + 1
		for _, e := range evs {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("line %d out of range 1..%d", e.Line, lines)
			}
		}
		if strings.TrimSpace(s) != "" && len(evs) == 0 && !strings.Contains(s, "[") {
			t.Fatalf("non-blank input %q gave no events", s)
		}
	})
}

// The layout cache must never change an answer: every shared line gets the
// same time from a parser that has seen the whole corpus (warm, formats
// interleaved) as from a fresh one.
func TestHeaderTimeCacheAgreesWithColdParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(datasets.Path(t, "loghub"), "*", "*_2k.log"))
	more, _ := filepath.Glob(filepath.Join(datasets.Path(t, "samples"), "*"))
	var lines []string
	for _, f := range append(files, more...) {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		lr := NewLineReader(fh)
		for lr.Scan() {
			lines = append(lines, lr.Text())
		}
		fh.Close()
	}
	var warm Parser
	// Shuffle so the cache sees the formats mixed.
	for _, j := range rand.New(rand.NewPCG(1, 2)).Perm(len(lines)) {
		got := warm.ParseLine(lines[j]).Time
		var cold Parser
		if want := cold.ParseLine(lines[j]).Time; !got.Equal(want) {
			t.Fatalf("line %q: warm %s, cold %s", lines[j], got, want)
		}
	}
	if len(warm.timeHints) > 64 {
		t.Errorf("%d timestamp shapes for %d formats: the shape key is too fine", len(warm.timeHints), len(files)+len(more))
	}
}

// pausingReader hands out its chunks one Read at a time with a pause
// between them, as a followed file does.
type pausingReader struct {
	chunks []string
	paused bool
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if len(p.chunks) == 0 {
		return 0, io.EOF
	}
	if !p.paused {
		p.paused = true
		return 0, ErrPause
	}
	p.paused = false
	n := copy(b, p.chunks[0])
	p.chunks[0] = p.chunks[0][n:]
	if p.chunks[0] == "" {
		p.chunks = p.chunks[1:]
	}
	return n, nil
}

func TestPauseFlushesHeldRecordAndReadsOn(t *testing.T) {
	r := &pausingReader{chunks: []string{
		"ERROR boom\n\tat a.B.c(B.java:1)\n", // a stack record the assembler holds back
		"half a li", "ne\n",                  // a line split by a pause is one line
	}}
	a := NewAssembler(r)
	var got []Record
	pauses := 0
	for {
		rec, err := a.Next()
		if errors.Is(err, ErrPause) {
			pauses++
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	if len(got) != 2 || len(got[0].Lines) != 2 || got[1].Lines[0] != "half a line" {
		t.Fatalf("records %+v", got)
	}
	if pauses == 0 {
		t.Fatal("no pause reported")
	}
}

func TestLogEntryResourceLabels(t *testing.T) {
	var p Parser
	ev := p.ParseLine(`{"severity":"ERROR","textPayload":"boom","resource":{"type":"cloud_run_revision","labels":{"service_name":"pay","location":"eu"}}}`)
	if ev.Labels["resource_type"] != "cloud_run_revision" || ev.Labels["service_name"] != "pay" || ev.Labels["location"] != "eu" {
		t.Fatalf("labels %v", ev.Labels)
	}
}

// Each origin-keeping case the detection relies on, with a real line: the
// service, the level, the time (a fixed "now" for years inferred) and a
// message that keeps its words.
func TestOriginsAreKept(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, text string
		sev        domain.Severity
		service    string
		at         time.Time
		msg        string
	}{
		{"TS LEVEL prog[pid]:", "2026-11-20T09:00:01.000Z ERROR checkout[1296]: payment failed", domain.Error, "checkout",
			time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC), "payment failed"},
		{"[service] before the time", "[checkout] 2026-11-20 09:00:01 ERROR payment failed", domain.Error, "checkout",
			time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC), "payment failed"},
		{"[service] before the level", "2026-11-20 09:00:01 [checkout] ERROR payment failed", domain.Error, "checkout",
			time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC), "payment failed"},
		{"a thread bracket is no service", "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster", domain.Info, "",
			time.Date(2015, 10, 18, 18, 1, 47, 978e6, time.UTC), "Created MRAppMaster"},
		{"BSD syslog, year inferred", "Nov 20 09:00:01 web-1 nginx[123]: upstream timed out (110: Connection timed out) while reading response header", domain.Default, "nginx",
			time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC), "upstream timed out (110: Connection timed out) while reading response header"},
		{"BSD syslog from last year", "Dec 31 23:59:59 combo sshd(pam_unix)[19939]: check pass; user unknown", domain.Default, "sshd",
			time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), "check pass; user unknown"},
		{"klog", "E1202 06:13:11.123456    4242 reflector.go:138] failed to list *v1.Pod: connection refused", domain.Error, "",
			time.Date(2026, 12, 2, 6, 13, 11, 123456000, time.UTC), "failed to list *v1.Pod: connection refused"},
		{"bracketed level", "2026-11-20 09:00:01 [DEBUG] cache warmed in 3ms", domain.Debug, "",
			time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC), "cache warmed in 3ms"},
		{"a message word after the level stays", "2026-11-20T09:01:05.000Z ERROR panic: runtime error: invalid memory address", domain.Error, "",
			time.Date(2026, 11, 20, 9, 1, 5, 0, time.UTC), "panic: runtime error: invalid memory address"},
		{"x509 stays", "2026-11-20T09:01:06.000Z ERROR x509: certificate has expired or is not yet valid", domain.Error, "",
			time.Date(2026, 11, 20, 9, 1, 6, 0, time.UTC), "x509: certificate has expired or is not yet valid"},
		{"a number after the level stays", "- 1119475796 2005.06.22 R22-M0-NA-C:J02-U11 2005-06-22-14.29.56.824423 R22-M0-NA-C:J02-U11 RAS KERNEL INFO 199680 double-hummer alignment exceptions", domain.Info, "",
			time.Unix(1119475796, 0).UTC(), "199680 double-hummer alignment exceptions"},
		{"java.util.logging", "Nov 20, 2026 9:00:01 AM org.apache.catalina.core.StandardWrapperValve invoke\nSEVERE: Servlet.service() for servlet [dispatcher] threw exception", domain.Error, "",
			time.Date(2026, 11, 20, 9, 0, 1, 0, time.UTC), "Servlet.service() for servlet [dispatcher] threw exception"},
		{"a Go panic with no level", "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:8 +0x1d", domain.Critical, "",
			time.Time{}, "panic: runtime error: index out of range [3] with length 3"},
		{"a Java exception with no level", "Exception in thread \"main\" java.lang.IllegalStateException: pool closed\n\tat com.acme.Pool.get(Pool.java:42)", domain.Error, "",
			time.Time{}, `Exception in thread "main" java.lang.IllegalStateException: pool closed`},
		{"a Python traceback with no level", "Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n    main()\nValueError: bad input", domain.Error, "",
			time.Time{}, "ValueError: bad input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Now: func() time.Time { return now }}
			asm := NewAssembler(strings.NewReader(tt.text + "\n"))
			rec, err := asm.Next()
			if err != nil {
				t.Fatal(err)
			}
			var got []domain.Event
			p.Parse(rec, func(ev domain.Event) { got = append(got, ev) })
			if _, err := asm.Next(); err != io.EOF {
				t.Fatalf("more than one record: %v", err)
			}
			ev := got[0]
			if len(got) != 1 || ev.Severity != tt.sev || ev.Service != tt.service || !ev.Time.Equal(tt.at) || ev.Message != tt.msg {
				t.Errorf("got sev=%v service=%q time=%v msg=%q\nwant sev=%v service=%q time=%v msg=%q", ev.Severity, ev.Service, ev.Time, ev.Message, tt.sev, tt.service, tt.at, tt.msg)
			}
		})
	}
}

// Where a service is read from follows parse.service_from.
func TestServicePrecedence(t *testing.T) {
	text := "[web] 2026-11-20 09:00:01 ERROR checkout[1296]: payment failed"
	js := `{"severity":"ERROR","message":"payment failed","service":"pay"}`
	for _, tt := range []struct {
		from     []string
		text, js string
	}{
		{nil, "checkout", "pay"},
		{[]string{"fields", "tag", "bracket", "source"}, "checkout", "pay"},
		{[]string{"bracket", "tag"}, "web", ""},
		{[]string{"fields", "bracket"}, "web", "pay"},
		{[]string{"source"}, "", ""},
	} {
		p := Parser{Config: Config{ServiceFrom: tt.from}}
		for _, c := range []struct{ line, want string }{{text, tt.text}, {js, tt.js}} {
			var got string
			p.Parse(Record{Line: 1, Lines: []string{c.line}}, func(ev domain.Event) { got = ev.Service })
			if got != c.want {
				t.Errorf("service_from %v, %q: service %q, want %q", tt.from, c.line, got, c.want)
			}
		}
	}
	if err := (Config{ServiceFrom: []string{"tag", "hostname"}}).Validate(); err == nil {
		t.Error("an unknown kind was accepted")
	}
	if err := (Config{ServiceFrom: []string{"tag", "tag"}}).Validate(); err == nil {
		t.Error("a repeated kind was accepted")
	}
}

// Go frames as zap and the runtime print them belong to the line above;
// words with dots do not.
func TestGoFrames(t *testing.T) {
	for line, want := range map[string]bool{
		"github.com/acme/shop/cart.(*Service).Checkout": true,
		"net/http.HandlerFunc.ServeHTTP":                true,
		"main.main()":                                   true,
		"net/http.HandlerFunc.ServeHTTP(0xc000118a80, {0x7f2c, 0xc000212000}, 0x0)": true,
		"github.com/acme/checkout/internal/cart.(*Cart).Total(0x0)":                 true,
		"example.com":                 false,
		"done.":                       false,
		"see docs/README.md for more": false,
		"2026-11-20 ERROR x":          false,
	} {
		if got := IsGoFrame(line); got != want {
			t.Errorf("IsGoFrame(%q) = %v", line, got)
		}
	}
}
