// Package audit is the agent's append-only, hash-chained record of every
// outside action: model calls, deliveries, policy rejections and secret
// reads. Each record is one JSON line carrying its sequence number, the
// SHA-256 of the previous line (prev_hash) and the SHA-256 of its own
// content (hash), so an edited, removed, inserted or reordered record
// breaks the chain. A head file beside the log holds the last sequence
// number and hash, so a record cut from the end is found too.
//
// Records never carry prompt text or secret values: callers pass hashes,
// counts and names.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Kind says what a record is about.
type Kind string

const (
	KindModelCall       Kind = "model_call"
	KindDelivery        Kind = "delivery"
	KindNotification    Kind = "notification"
	KindSilence         Kind = "silence"       // a silence added or expired
	KindSilenced        Kind = "silenced"      // a run stopped by a silence, or resumed
	KindNote            Kind = "incident_note" // acknowledged or resolved by a person
	KindMCPCall         Kind = "mcp_call"      // a tool, resource or prompt asked of the MCP server
	KindPolicyRejection Kind = "policy_rejection"
	KindSecretRead      Kind = "secret_read"
	KindDeadLetter      Kind = "dead_letter"
	KindEgressDenied    Kind = "egress_denied"
	KindPromptBlocked   Kind = "prompt_blocked"
	KindBudgetExhausted Kind = "budget_exhausted"
	KindInjection       Kind = "injection_flagged"
	KindStage           Kind = "stage"
	KindStart           Kind = "agent_start"
	KindStop            Kind = "agent_stop"
	// KindBound: work held back, or incidents summarised, by a bound
	// (once per bound and key per window).
	KindBound Kind = "bound"
)

// Record is one audit entry. Fields are the caller's; Seq, Time, PrevHash
// and Hash are filled by Append.
type Record struct {
	Seq         int64          `json:"seq"`
	Time        time.Time      `json:"time"`
	Kind        Kind           `json:"kind"`
	Replica     string         `json:"replica,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Outcome     string         `json:"outcome,omitempty"`
	Fields      map[string]any `json:"fields,omitempty"`
	PrevHash    string         `json:"prev_hash"`
	Hash        string         `json:"hash"`
}

// content is the hashed form: the record with its own hash left empty.
func (r Record) content() ([]byte, error) {
	r.Hash = ""
	return json.Marshal(r)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Log appends records to one chain, kept by a Backend (a file here, a
// table in a shared PostgreSQL store). It is safe for concurrent use.
type Log struct {
	mu       sync.Mutex
	b        Backend
	seq      int64
	prevHash string
	now      func() time.Time
	replica  string
}

// Backend keeps one chain's lines durably: Write returns once the line
// and the new head (its sequence number and the line's hash) are stored.
type Backend interface {
	// Write keeps one record line; ctx carries the caller's trace and
	// deadline.
	Write(ctx context.Context, seq int64, line []byte, lineHash string) error
	Close() error
}

// Head is the last record a chain says it wrote.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"line_hash"`
}

// New continues a chain whose last record is head (zero for a new chain)
// on backend b; records name replica.
func New(b Backend, head Head, replica string) *Log {
	return &Log{b: b, seq: head.Seq, prevHash: head.Hash, now: time.Now, replica: replica}
}

// fileBackend is a JSON-lines file with a head file beside it.
type fileBackend struct {
	f    *os.File
	path string
	// end is the file's size after this process's last write (or at
	// open): while the file still ends there, no other writer has added
	// to it and the chain's head is the one this process knows.
	end int64
}

func (fb *fileBackend) Write(_ context.Context, seq int64, line []byte, lineHash string) error {
	n, err := fb.f.Write(append(line, '\n'))
	if err != nil {
		fb.end = -1 // unknown: the next record reads the head from disk
		return fmt.Errorf("write audit log: %w", err)
	}
	fb.end += int64(n)
	if err := fb.f.Sync(); err != nil {
		return fmt.Errorf("sync audit log: %w", err)
	}
	return writeHead(fb.path, Head{Seq: seq, Hash: lineHash})
}

func (fb *fileBackend) Close() error { return fb.f.Close() }

// HeadPath is where the head of the log at path is kept.
func HeadPath(path string) string { return path + ".head" }

// Open opens (creating if needed) the log at path and reads its tail to
// continue the chain. It refuses a log whose last record does not parse,
// rather than extend a broken chain.
func Open(path, replica string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create audit directory: %w", err)
	}
	// Never extend a chain that does not verify: a cut tail, a missing or
	// stale head, an edited record. The log stays as evidence; the agent
	// says so and does not start.
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if _, err := VerifyFile(path); err != nil {
			return nil, fmt.Errorf("audit log %s does not verify, refusing to extend it (keep it as evidence, move it and its head aside to start a new chain): %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	last, err := lastLine(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	var h Head
	if last != nil {
		var r Record
		if err := json.Unmarshal(last, &r); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit log %s: last record does not parse (run `sre-agent audit verify`): %w", path, err)
		}
		h = Head{Seq: r.Seq, Hash: sum(last)}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	return New(&fileBackend{f: f, path: path, end: st.Size()}, h, replica), nil
}

// lastLine returns the last non-empty line of f, reading backwards from
// the end in blocks.
func lastLine(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	end := st.Size()
	var tail []byte
	const block = 64 << 10
	for end > 0 {
		start := max(end-block, 0)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		tail = append(buf, tail...)
		end = start
		trimmed := bytes.TrimRight(tail, "\n")
		if i := bytes.LastIndexByte(trimmed, '\n'); i >= 0 {
			return trimmed[i+1:], nil
		}
		if end == 0 && len(trimmed) > 0 {
			return trimmed, nil
		}
	}
	return nil, nil
}

// Appender is where outside actions are recorded: the audit log, the
// replica's chain in PostgreSQL, or the agent's buffer before either opens.
// It is the one interface every package that audits uses.
type Appender interface {
	Append(ctx context.Context, r Record) (Record, error)
}

// Append writes one record and syncs it to disk before returning; the
// record as written (with sequence and hashes) is returned.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.b.(interface {
		lockHead() (Head, bool, func(), error)
	}); ok {
		h, moved, unlock, err := s.lockHead()
		if err != nil {
			return r, err
		}
		defer unlock()
		if moved {
			l.seq, l.prevHash = h.Seq, h.Hash
		}
	}
	r.Seq = l.seq + 1
	if r.Time.IsZero() {
		r.Time = l.now().UTC()
	}
	if r.Replica == "" {
		r.Replica = l.replica
	}
	r.PrevHash = l.prevHash
	// Fields are stored as Verify will read them back (maps with sorted
	// keys, numbers as written), so the hash is reproducible from the line.
	if r.Fields != nil {
		b, err := json.Marshal(r.Fields)
		if err != nil {
			return r, fmt.Errorf("audit record fields: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		r.Fields = nil
		if err := dec.Decode(&r.Fields); err != nil {
			return r, fmt.Errorf("audit record fields: %w", err)
		}
	}
	c, err := r.content()
	if err != nil {
		return r, fmt.Errorf("audit record: %w", err)
	}
	r.Hash = sum(c)
	line, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("audit record: %w", err)
	}
	if err := l.b.Write(ctx, r.Seq, line, sum(line)); err != nil {
		return r, err
	}
	l.seq, l.prevHash = r.Seq, sum(line)
	return r, nil
}

// Close closes the backend.
func (l *Log) Close() error { return l.b.Close() }

// Head is the chain's last record: its sequence number and line hash, the
// anchor to keep outside the machine.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Head{Seq: l.seq, Hash: l.prevHash}
}

func writeHead(path string, h Head) error {
	b, _ := json.Marshal(h)
	tmp := HeadPath(path) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write audit head: %w", err)
	}
	if err := os.Rename(tmp, HeadPath(path)); err != nil {
		return fmt.Errorf("write audit head: %w", err)
	}
	return nil
}

// Problem is the first bad record Verify found.
type Problem struct {
	Line   int    // 1-based line of the log; 0 when the head is at fault
	Seq    int64  // the record's sequence number when it parsed
	Reason string // what is wrong
}

func (p *Problem) Error() string {
	if p.Line == 0 {
		return "audit log: " + p.Reason
	}
	return fmt.Sprintf("audit log: line %d (seq %d): %s", p.Line, p.Seq, p.Reason)
}

// Summary is what Verify read.
type Summary struct {
	Records int
	LastSeq int64
}

// Verify reads a log and checks every record: it parses, its hash matches
// its content, its sequence number follows the one before, and its
// prev_hash is the hash of the line before. When headPath names a head
// file, the head is read first and the log must hold the head's record
// (it may hold more: records appended while it was read, or one written
// just before a crash); a log with records and no head fails. The error
// is a *Problem naming the first bad record.
func Verify(r io.Reader, headPath string) (Summary, error) {
	if headPath == "" {
		return verify(r, nil)
	}
	b, err := os.ReadFile(headPath)
	if errors.Is(err, os.ErrNotExist) {
		s, err := verify(r, nil)
		if err == nil && s.Records > 0 {
			err = &Problem{Reason: fmt.Sprintf("the head file %s is missing while the log holds %d records (it was deleted, perhaps with records cut from the end)", filepath.Base(headPath), s.Records)}
		}
		return s, err
	}
	if err != nil {
		return Summary{}, fmt.Errorf("read audit head: %w", err)
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return Summary{}, &Problem{Reason: "head file does not parse: " + err.Error()}
	}
	return VerifyHead(r, h)
}

// VerifyHead is Verify against a head kept elsewhere than a file.
func VerifyHead(r io.Reader, h Head) (Summary, error) {
	return VerifyAnchors(r, h)
}

// VerifyAnchors verifies the log and that it holds each anchor: a record
// with the anchor's sequence number whose line has the anchor's hash. An
// anchor kept outside the machine (the agent logs one at start, hourly
// and at stop) finds a log cut and re-chained, even with its head
// rewritten.
func VerifyAnchors(r io.Reader, anchors ...Head) (Summary, error) {
	want := map[int64]string{}
	for _, a := range anchors {
		if a.Seq > 0 {
			want[a.Seq] = a.Hash
		}
	}
	found := map[int64]bool{}
	s, err := verify(r, func(seq int64, lineHash string) error {
		h, ok := want[seq]
		if !ok {
			return nil
		}
		found[seq] = true
		if h != lineHash {
			return &Problem{Seq: seq, Reason: fmt.Sprintf("record %d is not the one the head or anchor recorded (the log was rewritten from there)", seq)}
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	for seq := range want {
		if !found[seq] {
			return s, &Problem{Reason: fmt.Sprintf("the log ends at seq %d but the head or an anchor says %d was written (records were cut from the end)", s.LastSeq, seq)}
		}
	}
	return s, nil
}

// wholeLines splits on newlines and drops a last line without its
// newline (a nil token is no token): it is a record being written right now (the head, read
// first, does not count it yet; a line an attacker cut short leaves the
// head ahead of the log, and that fails).
func wholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), nil, nil
	}
	return 0, nil, nil
}

// verify checks the chain; each record's line hash goes to check.
func verify(r io.Reader, check func(seq int64, lineHash string) error) (Summary, error) {
	var s Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sc.Split(wholeLines)
	prevHash := ""
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		dec.UseNumber() // numbers re-encode exactly as written
		if err := dec.Decode(&rec); err != nil {
			return s, &Problem{Line: n, Reason: "does not parse: " + err.Error()}
		}
		if rec.Seq != s.LastSeq+1 {
			return s, &Problem{Line: n, Seq: rec.Seq, Reason: fmt.Sprintf("sequence %d follows %d (a record was removed, inserted or moved)", rec.Seq, s.LastSeq)}
		}
		if rec.PrevHash != prevHash {
			return s, &Problem{Line: n, Seq: rec.Seq, Reason: "prev_hash does not match the record before (a record was edited, removed, inserted or moved)"}
		}
		c, err := rec.content()
		if err != nil {
			return s, &Problem{Line: n, Seq: rec.Seq, Reason: err.Error()}
		}
		if rec.Hash != sum(c) {
			return s, &Problem{Line: n, Seq: rec.Seq, Reason: "hash does not match the record's content (the record was edited)"}
		}
		// The next record's prev_hash covers the line's bytes, so an edit
		// that keeps the decoded value (whitespace, key order) is found too.
		prevHash = sum(line)
		if check != nil {
			if err := check(rec.Seq, prevHash); err != nil {
				if p, ok := err.(*Problem); ok {
					p.Line = n
				}
				return s, err
			}
		}
		s.Records++
		s.LastSeq = rec.Seq
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read audit log: %w", err)
	}
	return s, nil
}

// VerifyFile verifies the log at path against its head file.
func VerifyFile(path string) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	return Verify(f, HeadPath(path))
}

// ReadFile returns the records of the log at path, oldest first; a missing
// log has none.
func ReadFile(path string) ([]Record, error) { return ReadFileOf(path, "") }

// ReadFileOf reads the records of the log at path that name the incident
// fingerprint (all of them when it is empty). Lines that cannot name it
// are skipped before they are decoded, so the cost is reading the file,
// not decoding every record.
func ReadFileOf(path, fingerprint string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	return ReadRecordsOf(f, fingerprint)
}

// ReadRecords parses JSON-lines records.
func ReadRecords(r io.Reader) ([]Record, error) { return ReadRecordsOf(r, "") }

// ReadRecordsOf parses the JSON-lines records that name fingerprint (all
// when it is empty).
func ReadRecordsOf(r io.Reader, fingerprint string) ([]Record, error) {
	var out []Record
	var mark []byte
	if fingerprint != "" {
		// The field as Append writes it (json.Marshal, no spaces).
		q, _ := json.Marshal(fingerprint)
		mark = append([]byte(`"fingerprint":`), q...)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sc.Split(wholeLines)
	for n := 1; sc.Scan(); n++ {
		if mark != nil && !bytes.Contains(sc.Bytes(), mark) {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return out, fmt.Errorf("audit log line %d: %w", n, err)
		}
		if fingerprint != "" && rec.Fingerprint != fingerprint {
			continue
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// Spend is one provider and model's model calls on a day, as the audit
// records them.
type Spend struct {
	Provider     string  `json:"provider"`
	Model        string  `json:"model"`
	Calls        int     `json:"calls"`
	Cached       int     `json:"cached"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// SpendOn sums the model calls recs record on day (UTC, YYYY-MM-DD) by
// provider and model, in that order.
func SpendOn(recs []Record, day string) []Spend {
	by := map[[2]string]*Spend{}
	for _, rec := range recs {
		if rec.Kind != KindModelCall || rec.Time.UTC().Format(time.DateOnly) != day {
			continue
		}
		str := func(k string) string { s, _ := rec.Fields[k].(string); return s }
		key := [2]string{str("provider"), str("model")}
		s := by[key]
		if s == nil {
			s = &Spend{Provider: key[0], Model: key[1]}
			by[key] = s
		}
		s.Calls++
		if c, _ := rec.Fields["cached"].(bool); c {
			s.Cached++
		}
		s.InputTokens += int64(number(rec.Fields["input_tokens"]))
		s.OutputTokens += int64(number(rec.Fields["output_tokens"]))
		s.CostUSD += number(rec.Fields["cost_usd"])
	}
	out := make([]Spend, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Model < out[j].Model
	})
	return out
}

// number reads a field's number as records hold it: a float64 when read
// back, a json.Number as Append stores it.
func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}

// ChainResult is one replica's chain as verified (the chains a shared
// store keeps, one per replica).
type ChainResult struct {
	Replica string
	Summary Summary
	Err     error
}

// Count counts the records of kind with outcome ("" for any).
func Count(recs []Record, kind Kind, outcome string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && (outcome == "" || r.Outcome == outcome) {
			n++
		}
	}
	return n
}
