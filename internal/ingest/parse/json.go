package parse

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// isLogEntry tells a Cloud Logging LogEntry from other JSON by its fields.
func isLogEntry(v *fastjson.Value) bool {
	return v.Exists("logName") || v.Exists("textPayload") || v.Exists("jsonPayload") ||
		v.Exists("protoPayload") || v.Exists("insertId") || v.Exists("receiveTimestamp") ||
		(v.Exists("resource") && v.Exists("severity"))
}

func (p *Parser) fromObject(v *fastjson.Value, raw string) domain.Event {
	if isLogEntry(v) {
		return fromLogEntry(v)
	}
	// Docker's json-file driver: {"log":"...\n","stream":"stderr","time":"..."}.
	if lg := v.Get("log"); lg != nil && lg.Type() == fastjson.TypeString && (v.Exists("stream") || v.Exists("time")) {
		inner := strings.TrimRight(string(lg.GetStringBytes()), "\n")
		ev := p.child().parseLine(inner)
		splitMessage(&ev)
		if ev.Time.IsZero() {
			ev.Time = parseTime(str(v, "time"))
		}
		ev.Format = "docker"
		return ev
	}
	return fromGenericJSON(v, raw)
}

func str(v *fastjson.Value, keys ...string) string {
	x := v.Get(keys...)
	if x == nil {
		return ""
	}
	switch x.Type() {
	case fastjson.TypeString:
		return string(x.GetStringBytes())
	case fastjson.TypeNumber:
		return x.String()
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	}
	return ""
}

func num(v *fastjson.Value, keys ...string) int {
	x := v.Get(keys...)
	if x == nil {
		return 0
	}
	switch x.Type() {
	case fastjson.TypeNumber:
		return int(x.GetFloat64())
	case fastjson.TypeString:
		f, _ := strconv.ParseFloat(string(x.GetStringBytes()), 64)
		return int(f)
	}
	return 0
}

func severityOf(x *fastjson.Value) (domain.Severity, bool) {
	if x == nil {
		return domain.Default, false
	}
	switch x.Type() {
	case fastjson.TypeString:
		return domain.ParseSeverity(string(x.GetStringBytes()))
	case fastjson.TypeNumber:
		return domain.ParseSeverity(x.String())
	}
	return domain.Default, false
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05,999999999Z07:00", "2006-01-02T15:04:05,999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return parseEpoch(s)
}

// parseEpoch reads epoch seconds, milliseconds or microseconds.
func parseEpoch(s string) time.Time {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		switch {
		case f > 1e17:
			return time.UnixMicro(int64(f / 1e3)).UTC()
		case f > 1e14:
			return time.UnixMicro(int64(f)).UTC()
		case f > 1e11:
			return time.UnixMilli(int64(f)).UTC()
		default:
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
		}
	}
	return time.Time{}
}

func timeOf(x *fastjson.Value) time.Time {
	if x == nil {
		return time.Time{}
	}
	switch x.Type() {
	case fastjson.TypeString:
		return parseTime(string(x.GetStringBytes()))
	case fastjson.TypeNumber:
		return parseTime(x.String())
	case fastjson.TypeObject: // protobuf JSON {"seconds":..,"nanos":..}
		return time.Unix(int64(num(x, "seconds")), int64(num(x, "nanos"))).UTC()
	}
	return time.Time{}
}

func sourceLocation(x *fastjson.Value) *domain.SourceLocation {
	if x == nil || x.Type() != fastjson.TypeObject {
		return nil
	}
	sl := &domain.SourceLocation{File: str(x, "file"), Line: num(x, "line"), Function: str(x, "function")}
	if sl.File == "" && sl.Function == "" {
		return nil
	}
	return sl
}

// fromLogEntry reads the LogEntry fields the agent needs.
func fromLogEntry(v *fastjson.Value) domain.Event {
	ev := domain.Event{Format: "logentry"}
	ev.Severity, _ = severityOf(v.Get("severity"))
	ev.Time = timeOf(v.Get("timestamp"))
	if ev.Time.IsZero() {
		ev.Time = timeOf(v.Get("receiveTimestamp"))
	}
	ev.InsertID = str(v, "insertId")
	ev.Trace = str(v, "trace")
	ev.Span = str(v, "spanId")
	ev.SourceLocation = sourceLocation(v.Get("sourceLocation"))
	ev.Service = logEntryService(v)
	ev.Labels = resourceLabels(v)

	switch {
	case v.Exists("textPayload"):
		ev.Message = str(v, "textPayload")
	case v.Get("jsonPayload") != nil:
		jp := v.Get("jsonPayload")
		msg, stack := payloadMessage(jp)
		ev.Message, ev.Stack = msg, stack
		if ev.SourceLocation == nil {
			ev.SourceLocation = sourceLocation(jp.Get("logging.googleapis.com/sourceLocation"))
		}
	case v.Get("protoPayload") != nil:
		auditMessage(&ev, v.Get("protoPayload"))
	}
	if hr := v.Get("httpRequest"); hr != nil {
		ev.HTTPStatus = num(hr, "status")
		if ev.Message == "" {
			ev.Message = strings.TrimSpace(str(hr, "requestMethod") + " " + urlPath(str(hr, "requestUrl")) + " " + strconv.Itoa(ev.HTTPStatus))
		}
		if ev.HTTPStatus >= 500 && ev.Severity < domain.Error {
			ev.Severity = domain.Error
		}
	}
	splitMessage(&ev)
	return ev
}

// urlPath drops the query string, which often carries tokens.
func urlPath(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// resourceLabels copies the monitored resource's type and labels.
func resourceLabels(v *fastjson.Value) map[string]string {
	r := v.Get("resource")
	if r == nil {
		return nil
	}
	out := map[string]string{}
	if t := str(r, "type"); t != "" {
		out["resource_type"] = t
	}
	if o, err := r.Get("labels").Object(); err == nil && o != nil {
		o.Visit(func(k []byte, x *fastjson.Value) {
			if x.Type() == fastjson.TypeString && len(out) < 16 {
				out[string(k)] = string(x.GetStringBytes())
			}
		})
	}
	return out
}

func logEntryService(v *fastjson.Value) string {
	labels := v.Get("resource", "labels")
	if labels != nil {
		for _, k := range []string{"service_name", "function_name", "container_name", "module_id", "job_name", "job_id", "instance_name"} {
			if s := str(labels, k); s != "" {
				return s
			}
		}
	}
	if l := v.Get("labels"); l != nil {
		for _, k := range []string{"k8s-pod/app", "k8s-pod/app_kubernetes_io/name", "k8s-pod/k8s-app", "service"} {
			if s := str(l, k); s != "" {
				return s
			}
		}
	}
	if s := str(v, "protoPayload", "serviceName"); s != "" {
		return s
	}
	return str(v, "resource", "type")
}

// auditMessage summarises a Cloud Audit Log entry: method, resource,
// principal and, when the call failed, its status.
func auditMessage(ev *domain.Event, pp *fastjson.Value) {
	var b strings.Builder
	b.WriteString(str(pp, "methodName"))
	if r := str(pp, "resourceName"); r != "" {
		b.WriteString(" on ")
		b.WriteString(r)
	}
	if who := str(pp, "authenticationInfo", "principalEmail"); who != "" {
		b.WriteString(" by ")
		b.WriteString(who)
	}
	if code := num(pp, "status", "code"); code != 0 {
		b.WriteString(" failed: code=")
		b.WriteString(strconv.Itoa(code))
		if m := str(pp, "status", "message"); m != "" {
			b.WriteString(" ")
			b.WriteString(m)
		}
		if ev.Severity < domain.Error {
			ev.Severity = domain.Error
		}
	}
	ev.Message = b.String()
}

var (
	messageKeys = []string{"message", "msg", "MESSAGE", "@m", "@mt", "text", "log"}
	errorKeys   = []string{"error", "err", "exception", "error.message"}
	levelKeys   = []string{"level", "severity", "lvl", "loglevel", "log.level", "levelname", "logging.googleapis.com/severity", "@l", "level_name"}
	timeKeys    = []string{"time", "timestamp", "ts", "@timestamp", "t", "@t", "datetime"}
	stackKeys   = []string{"stack", "stack_trace", "stacktrace", "exc_info", "traceback"}
	// Special keys never rendered into a message.
	metaKeys = map[string]bool{"logging.googleapis.com/severity": true, "logging.googleapis.com/labels": true,
		"logging.googleapis.com/operation": true, "logging.googleapis.com/sourceLocation": true,
		"logging.googleapis.com/trace": true, "logging.googleapis.com/spanId": true,
		"logging.googleapis.com/trace_sampled": true, "logging.googleapis.com/insertId": true}
)

// payloadMessage finds the message of a JSON payload, joining an error
// value to it, and the stack trace if one is there.
func payloadMessage(v *fastjson.Value) (msg, stack string) {
	for _, k := range messageKeys {
		if s := strValue(v.Get(k)); s != "" {
			msg = s
			break
		}
	}
	for _, k := range errorKeys {
		x := v.Get(k)
		if x == nil {
			x = v.Get(strings.Split(k, ".")...)
		}
		if x == nil {
			continue
		}
		if x.Type() == fastjson.TypeObject {
			if s := str(x, "stack"); s != "" {
				stack = s
			}
			if s := str(x, "message"); s != "" {
				msg = joinErr(msg, s)
			}
			continue
		}
		if s := strValue(x); s != "" && s != msg {
			msg = joinErr(msg, s)
			break
		}
	}
	for _, k := range stackKeys {
		if s := strValue(v.Get(k)); s != "" {
			stack = s
			break
		}
	}
	if msg == "" {
		msg = renderFields(v)
	}
	return msg, stack
}

func joinErr(msg, err string) string {
	if msg == "" {
		return err
	}
	return msg + ": " + err
}

func strValue(x *fastjson.Value) string {
	if x == nil {
		return ""
	}
	if x.Type() == fastjson.TypeString {
		return string(x.GetStringBytes())
	}
	return ""
}

// renderFields writes an object without a message field as sorted k=v pairs
// so that it still templates well.
func renderFields(v *fastjson.Value) string {
	o, err := v.Object()
	if err != nil {
		return string(v.MarshalTo(nil))
	}
	var keys []string
	o.Visit(func(k []byte, _ *fastjson.Value) {
		if !metaKeys[string(k)] {
			keys = append(keys, string(k))
		}
	})
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		x := o.Get(k)
		if x.Type() == fastjson.TypeString {
			b.Write(x.GetStringBytes())
		} else {
			b.Write(x.MarshalTo(nil))
		}
		if b.Len() > 2048 {
			break
		}
	}
	return b.String()
}

func fromGenericJSON(v *fastjson.Value, raw string) domain.Event {
	ev := domain.Event{Format: "json"}
	for _, k := range levelKeys {
		if s, ok := severityOf(v.Get(k)); ok {
			ev.Severity = s
			break
		}
	}
	if p := v.Get("PRIORITY"); p != nil { // journald
		if n, err := strconv.Atoi(strValue(p)); err == nil {
			ev.Severity = domain.SyslogSeverity(n)
		}
	}
	for _, k := range timeKeys {
		if t := timeOf(v.Get(k)); !t.IsZero() {
			ev.Time = t
			break
		}
	}
	if ev.Time.IsZero() {
		if us := str(v, "__REALTIME_TIMESTAMP"); us != "" {
			ev.Time = parseTime(us)
		}
	}
	ev.Service = jsonService(v)
	ev.Message, ev.Stack = payloadMessage(v)
	ev.SourceLocation = sourceLocation(v.Get("logging.googleapis.com/sourceLocation"))
	ev.Trace = str(v, "logging.googleapis.com/trace")
	if ev.Trace == "" {
		ev.Trace = str(v, "trace_id")
	}
	ev.Span = str(v, "logging.googleapis.com/spanId")
	if ev.Span == "" {
		ev.Span = str(v, "span_id")
	}
	ev.InsertID = str(v, "logging.googleapis.com/insertId")
	splitMessage(&ev)
	return ev
}

func jsonService(v *fastjson.Value) string {
	candidates := [][]string{
		{"service"}, {"service", "name"}, {"service.name"}, {"app"}, {"application"},
		{"labels", "service"}, {"logging.googleapis.com/labels", "service"},
		{"kubernetes", "labels", "app"}, {"kubernetes", "labels", "app.kubernetes.io/name"},
		{"kubernetes", "labels", "k8s-app"}, {"kubernetes", "container_name"},
		{"SYSLOG_IDENTIFIER"}, {"_SYSTEMD_UNIT"}, {"logger"}, {"logger_name"}, {"name"},
	}
	for _, path := range candidates {
		if s := strValue(v.Get(path...)); s != "" {
			return s
		}
	}
	return ""
}
