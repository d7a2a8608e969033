// Package send posts a notification's JSON body to an HTTP endpoint with
// the retries every notification sink uses: 429 and 5xx are tried again
// (after Retry-After when the endpoint sends one, else a backoff), up to
// a bound; any other refusal is final.
package send

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
)

// Request is one body to post.
type Request struct {
	Name        string // the sink, for errors
	URL         string
	Body        []byte
	MaxAttempts int
	// Header sets each attempt's headers (a signature may carry the time).
	Header func(h http.Header, now time.Time) error
}

// Response is the endpoint's final answer.
type Response struct {
	Status int
	Body   []byte // the first 64 KiB
}

// Sender posts with retries.
type Sender struct {
	Client *http.Client
	Now    func() time.Time
	Sleep  func(context.Context, time.Duration) error
}

// DefaultAttempts bounds the tries of one body when the sink sets none.
const DefaultAttempts = 4

// New is a Sender on client with the real clock and waits.
func New(client *http.Client) Sender {
	return Sender{Client: client, Now: time.Now, Sleep: backoff.Sleep}
}

// Post sends r, trying again as the endpoint allows.
func (s Sender) Post(ctx context.Context, r Request) (Response, error) {
	attempts := r.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var err error
	for attempt := range attempts {
		var resp Response
		var wait time.Duration
		resp, wait, err = s.once(ctx, r, attempt)
		if err == nil {
			return resp, nil
		}
		if wait < 0 || attempt+1 == attempts {
			return resp, err
		}
		if serr := s.Sleep(ctx, wait); serr != nil {
			return resp, serr
		}
	}
	return Response{}, err
}

func (s Sender) once(ctx context.Context, r Request, attempt int) (Response, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Response{}, -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Header != nil {
		if err := r.Header(req.Header, s.Now()); err != nil {
			return Response{}, -1, err
		}
	}
	resp, err := s.Client.Do(req)
	wait := time.Duration(500<<attempt) * time.Millisecond
	if err != nil {
		return Response{}, wait, fmt.Errorf("%s: %w", r.Name, transportError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	out := Response{Status: resp.StatusCode, Body: body}
	switch {
	case resp.StatusCode < 300:
		return out, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		if d := backoff.RetryAfter(resp.Header); d > 0 {
			wait = d
		}
		return out, wait, fmt.Errorf("%s: HTTP %d", r.Name, resp.StatusCode)
	}
	return out, -1, fmt.Errorf("%s: HTTP %d", r.Name, resp.StatusCode)
}

// transportError drops the URL net/http puts in a failed request's error:
// a webhook's URL carries its key, token or signature.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// WebhookURL resolves a webhook's URL from its secret reference: the URL
// itself is the credential. Plain http is refused beyond loopback.
func WebhookURL(ctx context.Context, st interface {
	Get(ctx context.Context, ref string) (string, error)
}, name, ref string) (*url.URL, error) {
	raw, err := st.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("%s: webhook url: %w", name, err)
	}
	return CheckURL(name+": webhook", raw)
}

// CheckURL reads an endpoint for doctor: it must parse and be https
// (plain http only to loopback).
func CheckURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s: the url does not parse", name)
	}
	if h := u.Hostname(); u.Scheme != "https" && !(u.Scheme == "http" && (h == "127.0.0.1" || h == "::1" || h == "localhost")) {
		return nil, fmt.Errorf("%s: the url must be https", name)
	}
	return u, nil
}
