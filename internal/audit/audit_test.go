package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeLog appends n records and returns the log's path and lines.
func writeLog(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Record{Kind: KindModelCall, Fingerprint: "fp", Outcome: "ok",
			Fields: map[string]any{"stage": "triage", "input_tokens": 120 + i, "latency_ms": 1.5}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
}

func TestChainVerifiesAndContinuesAcrossOpens(t *testing.T) {
	path, _ := writeLog(t, 3)
	l, err := Open(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Append(context.Background(), Record{Kind: KindDelivery, Outcome: "delivered"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rec.Seq != 4 || rec.PrevHash == "" {
		t.Fatalf("appended after reopen: seq %d prev %q", rec.Seq, rec.PrevHash)
	}
	s, err := VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 4 || s.LastSeq != 4 {
		t.Fatalf("summary %+v", s)
	}
}

func TestTamperingIsFound(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(lines [][]byte) [][]byte
		wantLine int
	}{
		{"edited value", func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1)
			return l
		}, 3},
		{"edited whitespace", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`"kind":`), []byte(`"kind": `), 1)
			return l
		}, 3},
		{"removed", func(l [][]byte) [][]byte { return append(l[:1:1], l[2:]...) }, 2},
		{"inserted copy", func(l [][]byte) [][]byte {
			return append(l[:2:2], append([][]byte{l[1]}, l[2:]...)...)
		}, 3},
		{"reordered", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, 2},
		{"cut from the end", func(l [][]byte) [][]byte { return l[:len(l)-1] }, 0},
		{"last record edited", func(l [][]byte) [][]byte {
			n := len(l) - 1
			l[n] = bytes.Replace(l[n], []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1)
			return l
		}, 5},
		{"garbage line", func(l [][]byte) [][]byte { l[3] = []byte("{not json"); return l }, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, lines := writeLog(t, 5)
			lines = tc.tamper(lines)
			if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := VerifyFile(path)
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("verify after tampering: err = %v, want a Problem", err)
			}
			if p.Line != tc.wantLine {
				t.Fatalf("first bad record at line %d, want %d (%v)", p.Line, tc.wantLine, p)
			}
		})
	}
}

func TestOpenRefusesBrokenTail(t *testing.T) {
	path, _ := writeLog(t, 2)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{half a rec\n")
	f.Close()
	if _, err := Open(path, "r1"); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("Open over a broken tail: %v", err)
	}
}

func TestEmptyLogVerifies(t *testing.T) {
	if s, err := Verify(strings.NewReader(""), ""); err != nil || s.Records != 0 {
		t.Fatalf("empty log: %+v %v", s, err)
	}
}

func TestStructFieldsVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l, _ := Open(path, "r")
	type v struct {
		Rule, Path string
		N          int64
	}
	if _, err := l.Append(context.Background(), Record{Kind: KindPolicyRejection, Fields: map[string]any{"violations": []v{{"z", "<a&b>", 1 << 60}}}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := VerifyFile(path); err != nil {
		t.Fatal(err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(`{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"stage","prev_hash":"","hash":"x"}` + "\n")
	f.Add("{}\n{}\n")
	f.Add("not json\n")
	f.Fuzz(func(t *testing.T, s string) {
		sum, err := Verify(strings.NewReader(s), "")
		if err == nil && sum.Records > 0 && sum.LastSeq != int64(sum.Records) {
			t.Fatalf("verified %d records ending at seq %d", sum.Records, sum.LastSeq)
		}
		// The reader the dashboard uses: a verified log reads back whole.
		recs, rerr := ReadRecords(strings.NewReader(s))
		if err == nil && (rerr != nil || len(recs) != sum.Records) {
			t.Fatalf("a verified log of %d records read back as %d: %v", sum.Records, len(recs), rerr)
		}
	})
}

func TestReadRecordsNamesTheBadLine(t *testing.T) {
	recs, err := ReadRecords(strings.NewReader(`{"seq":1,"kind":"stage","prev_hash":"","hash":"h"}` + "\n{broken\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs, err := ReadFile(t.TempDir() + "/absent.jsonl"); err != nil || recs != nil {
		t.Fatalf("a missing log: %v %v", recs, err)
	}
}

func TestSpendOnSumsTheDaysModelCalls(t *testing.T) {
	day := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	recs := []Record{
		{Time: day, Kind: KindModelCall, Fields: map[string]any{"provider": "gemini", "model": "m", "input_tokens": 100.0, "output_tokens": json.Number("20"), "cost_usd": 0.5}},
		{Time: day.Add(time.Hour), Kind: KindModelCall, Fields: map[string]any{"provider": "gemini", "model": "m", "input_tokens": 10.0, "cached": true}},
		{Time: day, Kind: KindModelCall, Fields: map[string]any{"provider": "anthropic", "model": "c", "cost_usd": json.Number("0.25")}},
		{Time: day.AddDate(0, 0, -1), Kind: KindModelCall, Fields: map[string]any{"provider": "gemini", "model": "m", "input_tokens": 999.0}},
		{Time: day, Kind: KindDelivery},
	}
	got := SpendOn(recs, "2026-11-28")
	want := []Spend{{Provider: "anthropic", Model: "c", Calls: 1, CostUSD: 0.25},
		{Provider: "gemini", Model: "m", Calls: 2, Cached: 1, InputTokens: 110, OutputTokens: 20, CostUSD: 0.5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func writeN(t *testing.T, path string, n int) *Log {
	t.Helper()
	l, err := Open(path, "r")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Record{Kind: KindModelCall, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// cutTail keeps the first n lines of the log.
func cutTail(t *testing.T, path string, n int) {
	t.Helper()
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(strings.Join(lines[:n], "")), 0o600)
}

// A tail cut with the head deleted, or with the stale head kept, fails
// verification, and the agent refuses to extend such a log.
func TestCutTailIsFoundWithOrWithoutTheHead(t *testing.T) {
	for _, deleteHead := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		writeN(t, path, 5).Close()
		cutTail(t, path, 3)
		if deleteHead {
			os.Remove(HeadPath(path))
		}
		if _, err := VerifyFile(path); err == nil {
			t.Fatalf("deleteHead=%v: a cut log verifies", deleteHead)
		}
		if _, err := Open(path, "r"); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("deleteHead=%v: the agent opened a log that does not verify: %v", deleteHead, err)
		}
	}
}

// A log cut and given a head that matches its new end passes on its own;
// an anchor kept elsewhere finds it.
func TestAnchorsFindARewrittenHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := writeN(t, path, 5)
	anchor := l.Head()
	l.Close()
	cutTail(t, path, 3)
	recs, _ := ReadFile(path)
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	writeHead(path, Head{Seq: recs[2].Seq, Hash: sum([]byte(lines[2]))})
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("the rewritten head should pass on its own: %v", err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if _, err := VerifyAnchors(f, anchor); err == nil {
		t.Fatal("an anchor kept elsewhere did not find the cut")
	}
	f2, _ := os.Open(path)
	defer f2.Close()
	if _, err := VerifyAnchors(f2, Head{Seq: recs[1].Seq, Hash: sum([]byte(lines[1]))}); err != nil {
		t.Fatalf("an anchor the log still holds: %v", err)
	}
}

// Verifying a log while it is written never reports tampering.
func TestVerifyWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := writeN(t, path, 1)
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 300; i++ {
			l.Append(context.Background(), Record{Kind: KindModelCall, Outcome: "ok"})
		}
	}()
	for {
		select {
		case <-done:
			if _, err := VerifyFile(path); err != nil {
				t.Fatal(err)
			}
			return
		default:
			if _, err := VerifyFile(path); err != nil {
				t.Fatalf("verify during writes: %v", err)
			}
		}
	}
}

// Two writers on one file (the daemon and a command, or the MCP server,
// each its own process with its own Log) take turns: every record
// extends the chain as it is on disk, and the file verifies.
func TestWritersOnOneFileKeepTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := Open(path, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, "mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 2)
	for _, l := range []*Log{a, b} {
		go func() {
			for i := range 50 {
				if _, err := l.Append(context.Background(), Record{Kind: KindMCPCall, Outcome: "ok", Fields: map[string]any{"i": i}}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	s, err := VerifyFile(path)
	if err != nil || s.Records != 100 || s.LastSeq != 100 {
		t.Fatalf("after two writers: %+v %v", s, err)
	}
}

// ReadFileOf keeps the records naming one incident: not another's, not
// one that only mentions it in a field.
func TestReadFileOf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, "r1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []Record{
		{Kind: KindModelCall, Fingerprint: "aaaa"}, {Kind: KindDelivery, Fingerprint: "bbbb"},
		{Kind: KindMCPCall, Fields: map[string]any{"name": `"fingerprint":"aaaa"`}}, {Kind: KindDelivery, Fingerprint: "aaaa"},
		{Kind: KindModelCall, Fingerprint: "aaaab"},
	} {
		if _, err := l.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	got, err := ReadFileOf(path, "aaaa")
	if err != nil || len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 4 {
		t.Fatalf("records of aaaa: %+v %v", got, err)
	}
	if all, _ := ReadFileOf(path, ""); len(all) != 5 {
		t.Fatalf("all: %d", len(all))
	}
}
