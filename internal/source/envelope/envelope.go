// Package envelope turns a message from a log transport (Pub/Sub fed by a
// Cloud Logging sink, SQS fed by a CloudWatch Logs subscription, NATS,
// Kafka) into log events, and refuses what is not a log message with a
// reason, so the caller can dead-letter it instead of crashing or dropping
// it. Compressed payloads (gzip, and base64 of gzip as CloudWatch Logs
// sends through Lambda and Firehose) are inflated within a bound.
package envelope

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
)

// Format says what a transport's messages must be.
type Format string

const (
	// FormatAuto accepts a LogEntry, a CloudWatch Logs payload, any JSON
	// object or UTF-8 text lines.
	FormatAuto Format = "auto"
	// FormatLogEntry accepts only Cloud Logging LogEntry JSON (a sink).
	FormatLogEntry Format = "logentry"
	// FormatCloudWatch accepts only CloudWatch Logs subscription payloads.
	FormatCloudWatch Format = "cloudwatch"
)

// Options bound decoding.
type Options struct {
	// Format is auto (the default: each message says what it is),
	// logentry, cloudwatch or text.
	Format Format `yaml:"format"`
	// MaxBytes is the largest message accepted, as received.
	MaxBytes int `yaml:"max_bytes"`
	// MaxInflated bounds a compressed payload once inflated.
	MaxInflated int `yaml:"max_inflated"`
}

// DefaultOptions accept messages up to Pub/Sub's 10 MB limit.
func DefaultOptions() Options {
	return Options{Format: FormatAuto, MaxBytes: 10 << 20, MaxInflated: 32 << 20}
}

// Validate checks the options.
func (o Options) Validate() error {
	switch o.Format {
	case FormatAuto, FormatLogEntry, FormatCloudWatch:
	default:
		return fmt.Errorf("decode: unknown format %q (auto, logentry or cloudwatch)", o.Format)
	}
	if o.MaxBytes < 1 || o.MaxInflated < o.MaxBytes {
		return errors.New("decode: max_bytes must be positive and max_inflated at least max_bytes")
	}
	return nil
}

// Reasons a message is refused.
const (
	ReasonOversized   = "oversized"
	ReasonInvalidJSON = "invalid-json"
	ReasonWrongShape  = "wrong-shape"
	ReasonCompression = "bad-compression"
	ReasonBinary      = "binary"
	ReasonEmpty       = "empty"
)

// BadMessage is a message that is not a log message.
type BadMessage struct {
	Reason string
	Detail string
}

func (e *BadMessage) Error() string { return e.Reason + ": " + e.Detail }

func bad(reason, format string, args ...any) error {
	return &BadMessage{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Message is what one transport message holds.
type Message struct {
	// Key identifies the message's content for deduplication across
	// redeliveries: a LogEntry's log name and insertId, or a CloudWatch
	// payload's stream and event ids; empty when the content has none (the
	// transport's message id stands in).
	Key string
	// Records go through the parser (LogEntry JSON, JSON objects, text).
	Records []parse.Record
	// Events are already parsed (CloudWatch log events).
	Events []domain.Event
	// Control is a CloudWatch control message: nothing to read, not bad.
	Control bool
}

// Decoder decodes messages. It is not safe for concurrent use.
type Decoder struct {
	opts   Options
	json   fastjson.Parser
	parser parse.Parser
}

// New builds a decoder.
func New(opts Options) (*Decoder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Decoder{opts: opts}, nil
}

// Decode reads one message. A *BadMessage error means the message is not a
// log message and should be dead-lettered.
func (d *Decoder) Decode(data []byte) (Message, error) {
	if len(data) > d.opts.MaxBytes {
		return Message{}, bad(ReasonOversized, "%d bytes, the limit is %d", len(data), d.opts.MaxBytes)
	}
	data, err := d.inflate(data)
	if err != nil {
		return Message{}, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Message{}, bad(ReasonEmpty, "no content")
	}
	if trimmed[0] != '{' {
		if d.opts.Format != FormatAuto {
			return Message{}, bad(ReasonInvalidJSON, "want a JSON object for format %s", d.opts.Format)
		}
		return d.text(trimmed)
	}
	v, err := d.json.ParseBytes(trimmed)
	if err != nil {
		return Message{}, bad(ReasonInvalidJSON, "%v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return Message{}, bad(ReasonWrongShape, "a JSON %s, not an object", v.Type())
	}
	// CloudWatch through Lambda: {"awslogs":{"data":"<base64 gzip>"}}.
	if aw := v.Get("awslogs", "data"); aw != nil {
		inner, err := d.inflateBase64(aw.GetStringBytes())
		if err != nil {
			return Message{}, err
		}
		return d.Decode(inner)
	}
	if v.Get("logEvents") != nil || v.Get("messageType") != nil {
		if d.opts.Format == FormatLogEntry {
			return Message{}, bad(ReasonWrongShape, "a CloudWatch Logs payload where LogEntry JSON was expected")
		}
		return d.cloudWatch(v)
	}
	if d.opts.Format == FormatCloudWatch {
		return Message{}, bad(ReasonWrongShape, "not a CloudWatch Logs payload")
	}
	isEntry := v.Get("logName") != nil || v.Get("insertId") != nil
	if d.opts.Format == FormatLogEntry && !isEntry {
		return Message{}, bad(ReasonWrongShape, "JSON object without logName or insertId: not a LogEntry")
	}
	m := Message{Records: []parse.Record{{Line: 1, Lines: []string{string(trimmed)}}}}
	if id := v.GetStringBytes("insertId"); len(id) > 0 {
		m.Key = "le:" + string(v.GetStringBytes("logName")) + "|" + string(id)
	}
	return m, nil
}

// text splits a plain-text message into lines.
func (d *Decoder) text(data []byte) (Message, error) {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return Message{}, bad(ReasonBinary, "not UTF-8 text")
	}
	var m Message
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		m.Records = append(m.Records, parse.Record{Line: i + 1, Lines: []string{l}})
	}
	if len(m.Records) == 0 {
		return Message{}, bad(ReasonEmpty, "no lines")
	}
	return m, nil
}

var gzipMagic = []byte{0x1f, 0x8b}

// inflate gunzips a gzip payload, and one that is base64 of gzip.
func (d *Decoder) inflate(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, gzipMagic) {
		return d.gunzip(data)
	}
	// Base64 of gzip starts "H4sI"; base64 of a JSON object "ey" or "ew"
	// (queues that only carry text often wrap payloads so).
	t := bytes.TrimSpace(data)
	if bytes.HasPrefix(t, []byte("H4sI")) {
		return d.inflateBase64(t)
	}
	if (bytes.HasPrefix(t, []byte("ey")) || bytes.HasPrefix(t, []byte("ew"))) && isBase64(t) {
		if raw, err := d.inflateBase64(t); err == nil && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return raw, nil
		}
	}
	return data, nil
}

func isBase64(b []byte) bool {
	if len(b)%4 != 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func (d *Decoder) inflateBase64(b []byte) ([]byte, error) {
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(raw, bytes.TrimSpace(b))
	if err != nil {
		return nil, bad(ReasonCompression, "base64: %v", err)
	}
	if !bytes.HasPrefix(raw[:n], gzipMagic) {
		return raw[:n], nil
	}
	return d.gunzip(raw[:n])
}

func (d *Decoder) gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, bad(ReasonCompression, "gzip: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(d.opts.MaxInflated)+1))
	if err != nil {
		return nil, bad(ReasonCompression, "gzip: %v", err)
	}
	if len(out) > d.opts.MaxInflated {
		return nil, bad(ReasonOversized, "inflates past %d bytes", d.opts.MaxInflated)
	}
	return out, nil
}

// cloudWatch reads a CloudWatch Logs subscription payload.
func (d *Decoder) cloudWatch(v *fastjson.Value) (Message, error) {
	switch mt := string(v.GetStringBytes("messageType")); mt {
	case "CONTROL_MESSAGE":
		return Message{Control: true}, nil
	case "DATA_MESSAGE", "":
	default:
		return Message{}, bad(ReasonWrongShape, "CloudWatch messageType %q", mt)
	}
	events := v.GetArray("logEvents")
	if events == nil {
		return Message{}, bad(ReasonWrongShape, "CloudWatch payload without logEvents")
	}
	group := string(v.GetStringBytes("logGroup"))
	stream := string(v.GetStringBytes("logStream"))
	var m Message
	var first, last string
	for _, e := range events {
		msg := e.GetStringBytes("message")
		if msg == nil {
			return Message{}, bad(ReasonWrongShape, "CloudWatch log event without a message")
		}
		ev := d.parser.ParseLine(strings.TrimRight(string(msg), "\r\n"))
		if ev.Service == "" {
			ev.Service = group
		}
		if ev.Time.IsZero() {
			if ms := e.GetInt64("timestamp"); ms > 0 {
				ev.Time = time.UnixMilli(ms).UTC()
			}
		}
		id := string(e.GetStringBytes("id"))
		ev.InsertID = id
		if first == "" {
			first = id
		}
		last = id
		m.Events = append(m.Events, ev)
	}
	if len(m.Events) == 0 {
		return Message{}, bad(ReasonEmpty, "CloudWatch payload with no log events")
	}
	if first != "" {
		m.Key = "cw:" + string(v.GetStringBytes("owner")) + "|" + group + "|" + stream + "|" + first + "|" + last
	}
	return m, nil
}
