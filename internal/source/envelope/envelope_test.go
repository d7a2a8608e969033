package envelope

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
)

func decoder(t testing.TB, f Format) *Decoder {
	t.Helper()
	o := DefaultOptions()
	o.Format = f
	o.MaxBytes = 64 << 10
	o.MaxInflated = 1 << 20
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func reason(err error) string {
	var b *BadMessage
	if errors.As(err, &b) {
		return b.Reason
	}
	return ""
}

func TestCloudWatchSamplesBothForms(t *testing.T) {
	plain, err := os.ReadFile(datasets.Path(t, "cloud", "aws", "valid_cloudwatch_log.json"))
	if err != nil {
		t.Fatal(err)
	}
	lambda, err := os.ReadFile(datasets.Path(t, "cloud", "aws", "cloudwatch-logs-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := decoder(t, FormatCloudWatch)
	m, err := d.Decode(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Events) == 0 || m.Events[0].Service != "CloudTrail" || m.Events[0].InsertID == "" || m.Events[0].Time.IsZero() || !strings.HasPrefix(m.Key, "cw:") {
		t.Fatalf("decoded %+v", m.Events[0])
	}
	// The Lambda form: base64 of gzip inside {"awslogs":{"data":...}}.
	m2, err := decoder(t, FormatAuto).Decode(lambda)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Events) == 0 || m2.Key == "" {
		t.Fatalf("lambda form: %+v", m2)
	}
	// Raw gzip and bare base64-gzip (as an SQS body carries it).
	for name, data := range map[string][]byte{"gzip": gz(plain), "base64": []byte(base64.StdEncoding.EncodeToString(gz(plain)))} {
		m3, err := d.Decode(data)
		if err != nil || len(m3.Events) != len(m.Events) || m3.Key != m.Key {
			t.Errorf("%s: %d events, key %q, err %v", name, len(m3.Events), m3.Key, err)
		}
	}
}

func TestLogEntry(t *testing.T) {
	entry, err := os.ReadFile(datasets.Path(t, "cloud", "gcp-logentry", "cloud-run-real_log.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := decoder(t, FormatLogEntry).Decode(entry)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Records) != 1 || !strings.HasPrefix(m.Key, "le:") {
		t.Fatalf("%+v", m)
	}
}

func TestBadMessagesHaveReasons(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70<<10)
	bomb := gz(bytes.Repeat([]byte("a"), 2<<20))
	cases := []struct {
		name   string
		f      Format
		data   []byte
		reason string
	}{
		{"invalid json", FormatLogEntry, []byte(`{"logName": "x", `), ReasonInvalidJSON},
		{"array", FormatLogEntry, []byte(`[1,2]`), ReasonInvalidJSON},
		{"wrong shape", FormatLogEntry, []byte(`{"hello":"world"}`), ReasonWrongShape},
		{"not cloudwatch", FormatCloudWatch, []byte(`{"logName":"x"}`), ReasonWrongShape},
		{"oversized", FormatAuto, big, ReasonOversized},
		{"gzip garbage", FormatAuto, append([]byte{0x1f, 0x8b}, []byte("garbage!!")...), ReasonCompression},
		{"gzip bomb", FormatAuto, bomb, ReasonOversized},
		{"binary", FormatAuto, []byte{0xff, 0xfe, 0x00, 0x01}, ReasonBinary},
		{"empty", FormatAuto, []byte("  \n"), ReasonEmpty},
		{"text for logentry", FormatLogEntry, []byte("ERROR boom"), ReasonInvalidJSON},
	}
	for _, tc := range cases {
		if _, err := decoder(t, tc.f).Decode(tc.data); reason(err) != tc.reason {
			t.Errorf("%s: err %v, want reason %s", tc.name, err, tc.reason)
		}
	}
	if m, err := decoder(t, FormatAuto).Decode([]byte(`{"messageType":"CONTROL_MESSAGE","logEvents":[]}`)); err != nil || !m.Control {
		t.Errorf("control message: %+v %v", m, err)
	}
	if m, err := decoder(t, FormatAuto).Decode([]byte("ERROR one\nERROR two\n")); err != nil || len(m.Records) != 2 {
		t.Errorf("text: %+v %v", m, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"logName":"l","insertId":"1","textPayload":"x"}`))
	f.Add([]byte(`{"messageType":"DATA_MESSAGE","logGroup":"g","logEvents":[{"id":"1","timestamp":1,"message":"m"}]}`))
	f.Add(gz([]byte(`{"logEvents":[]}`)))
	f.Add([]byte("H4sIAAAA"))
	d := decoder(f, FormatAuto)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := d.Decode(b)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(m.Records) == 0 && len(m.Events) == 0 && !m.Control {
			t.Fatalf("accepted %q with nothing in it", b)
		}
	})
}
