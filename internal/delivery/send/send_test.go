package send

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type refs map[string]string

func (r refs) Get(_ context.Context, ref string) (string, error) { return r[ref], nil }

func TestWebhookURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://chat.googleapis.com/v1/spaces/A/messages?key=K": true,
		"http://127.0.0.1:8080/hook":                             true,
		"http://localhost/hook":                                  true,
		"http://chat.example/hook?token=T":                       false,
		"ftp://x/y":                                              false,
		"not a url":                                              false,
		"":                                                       false,
	} {
		_, err := WebhookURL(context.Background(), refs{"r": raw}, "test", "r")
		if (err == nil) != ok || err != nil && strings.Contains(err.Error(), "token=T") {
			t.Errorf("%q: %v", raw, err)
		}
	}
}

// A request that never reaches the endpoint fails without naming its
// URL (it carries the credential); an HTTP-date Retry-After is honoured.
func TestErrorsHideTheURLAndRetryAfterDates(t *testing.T) {
	s := Sender{Client: &http.Client{Timeout: time.Second}, Now: time.Now, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err := s.Post(context.Background(), Request{Name: "hook", URL: "http://127.0.0.1:1/hook?token=SECRET", MaxAttempts: 2})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %v", err)
	}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	s.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if _, err := s.Post(context.Background(), Request{Name: "hook", URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] < 80*time.Second {
		t.Fatalf("waits %v: want the Retry-After date honoured", waits)
	}
}
