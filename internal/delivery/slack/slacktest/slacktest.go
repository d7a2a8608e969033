// Package slacktest is Slack's Web API as the sink uses it, for tests:
// chat.postMessage, chat.update and auth.test, with Slack's wire format
// and its refusals.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// API is Slack's Web API as documented for chat.postMessage,
// chat.update and auth.test: form-encoded POSTs, the token as a form field
// or a bearer header (anything else is invalid_auth), answers with
// {"ok":...}; HTTP 429 with Retry-After when rate limited.
type API struct {
	// Token is the bot token it accepts; Channel the one channel that
	// exists; Scopes what auth.test reports.
	Token, Channel, Scopes string
	// Fail holds statuses to answer with, one per request, before serving.
	Fail []int

	mu       sync.Mutex
	messages map[string]*Message
	order    []string // ts of every post, in order
	updates  int
	seq      int
}

// Message is a posted message as the fake keeps it.
type Message struct {
	Channel, TS, ThreadTS, Text, Blocks, Metadata string
	Broadcast                                     bool
	Replies                                       []string
}

// New is an API accepting token on channel.
func New(token, channel string) *API { return &API{Token: token, Channel: channel} }

// Posts are every posted message, in order (copies).
func (f *API) Posts() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Message, 0, len(f.order))
	for _, ts := range f.order {
		out = append(out, *f.messages[ts])
	}
	return out
}

// Get is the message with ts as it is now.
func (f *API) Get(ts string) (Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[ts]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Updates counts chat.update calls that changed a message.
func (f *API) Updates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates
}

func (f *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	b, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(b))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(f.Fail) > 0 {
		st := f.Fail[0]
		f.Fail = f.Fail[1:]
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		w.WriteHeader(st)
		return
	}
	answer := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	if form.Get("token") != f.Token && r.Header.Get("Authorization") != "Bearer "+f.Token {
		answer(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if f.messages == nil {
		f.messages = map[string]*Message{}
	}
	ch := form.Get("channel")
	switch r.URL.Path {
	case "/api/auth.test":
		w.Header().Set("X-OAuth-Scopes", f.Scopes)
		answer(map[string]any{"ok": true, "team": "T", "user": "sre-agent", "bot_id": "B1"})
	case "/api/chat.postMessage":
		if ch != f.Channel {
			answer(map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		if form.Get("text") == "" && form.Get("blocks") == "" {
			answer(map[string]any{"ok": false, "error": "no_text"})
			return
		}
		f.seq++
		ts := fmt.Sprintf("1700000000.%06d", f.seq)
		m := &Message{Channel: ch, TS: ts, ThreadTS: form.Get("thread_ts"), Text: form.Get("text"), Blocks: form.Get("blocks"),
			Metadata: form.Get("metadata"), Broadcast: form.Get("reply_broadcast") == "true"}
		if m.ThreadTS != "" {
			parent, ok := f.messages[m.ThreadTS]
			if !ok {
				answer(map[string]any{"ok": false, "error": "thread_not_found"})
				return
			}
			parent.Replies = append(parent.Replies, ts)
		}
		f.messages[ts] = m
		f.order = append(f.order, ts)
		answer(map[string]any{"ok": true, "channel": ch, "ts": ts})
	case "/api/chat.update":
		m, ok := f.messages[form.Get("ts")]
		if !ok || m.Channel != ch {
			answer(map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		m.Text, m.Blocks = form.Get("text"), form.Get("blocks")
		f.updates++
		answer(map[string]any{"ok": true, "channel": ch, "ts": m.TS, "text": m.Text})
	default:
		answer(map[string]any{"ok": false, "error": "unknown_method"})
	}
}
