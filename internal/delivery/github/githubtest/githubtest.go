// Package githubtest is a fake GitHub API for tests: the endpoints the
// pull-request target uses, with state (refs, pull requests), the request
// sequence, and installation-token issuing that checks the app JWT.
package githubtest

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// MainGo is the repository's main.go on the base branch.
const MainGo = "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"

// Fake serves the endpoints the target uses, with state, and records
// the request sequence.
type Fake struct {
	mu         sync.Mutex
	Seq        []string
	PRs        []map[string]any
	Comments   []map[string]any
	Refs       map[string]string
	Bodies     map[string]string // "POST /repos/o/r/pulls" -> body
	FailPulls  int               // fail this many pull creations (a crash)
	Auth       []string
	PubKey     *rsa.PublicKey
	TokenTTL   time.Duration
	Tokens     int
	JWTProblem string
}

func New() *Fake {
	return &Fake{Refs: map[string]string{"heads/main": "base123"}, Bodies: map[string]string{}, TokenTTL: time.Hour}
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	p := strings.TrimPrefix(r.URL.Path, "/api/v3")
	key := r.Method + " " + p
	f.Seq = append(f.Seq, key)
	f.Bodies[key] = string(b)
	w.Header().Set("Content-Type", "application/json")
	if strings.HasPrefix(p, "/app/installations/") {
		f.Tokens++
		f.checkJWT(r.Header.Get("Authorization"))
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("ghs_installation%d", f.Tokens), "expires_at": time.Now().Add(f.TokenTTL).UTC().Format(time.RFC3339)})
		return
	}
	f.Auth = append(f.Auth, r.Header.Get("Authorization"))
	switch {
	case r.Method == "GET" && p == "/repos/o/r/pulls":
		head := r.URL.Query().Get("head")
		out := []map[string]any{}
		for _, pr := range f.PRs {
			if "o:"+pr["head"].(map[string]any)["ref"].(string) == head {
				out = append(out, pr)
			}
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == "GET" && p == "/repos/o/r/contents/main.go":
		json.NewEncoder(w).Encode(map[string]any{"type": "file", "encoding": "base64", "path": "main.go", "sha": "f1",
			"content": base64.StdEncoding.EncodeToString([]byte(MainGo))})
	case r.Method == "GET" && strings.HasPrefix(p, "/repos/o/r/git/ref/"):
		name := strings.TrimPrefix(p, "/repos/o/r/git/ref/")
		sha, ok := f.Refs[name]
		if !ok {
			w.WriteHeader(404)
			w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ref": "refs/" + name, "object": map[string]any{"sha": sha, "type": "commit"}})
	case r.Method == "GET" && strings.HasPrefix(p, "/repos/o/r/git/trees/"):
		w.Write([]byte(`{"sha":"tree0","truncated":false,"tree":[{"path":"main.go","type":"blob","mode":"100644","sha":"f1"},{"path":"docs","type":"tree","mode":"040000","sha":"d1"}]}`))
	case r.Method == "GET" && p == "/repos/o/r/git/commits/base123":
		w.Write([]byte(`{"sha":"base123","tree":{"sha":"tree0"}}`))
	case r.Method == "POST" && p == "/repos/o/r/git/blobs":
		w.WriteHeader(201)
		w.Write([]byte(`{"sha":"blob1"}`))
	case r.Method == "POST" && p == "/repos/o/r/git/trees":
		w.WriteHeader(201)
		w.Write([]byte(`{"sha":"tree1"}`))
	case r.Method == "POST" && p == "/repos/o/r/git/commits":
		w.WriteHeader(201)
		w.Write([]byte(`{"sha":"commit1"}`))
	case r.Method == "POST" && p == "/repos/o/r/git/refs":
		var in struct{ Ref, SHA string }
		json.Unmarshal(b, &in)
		f.Refs[strings.TrimPrefix(in.Ref, "refs/")] = in.SHA
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"ref": in.Ref, "object": map[string]any{"sha": in.SHA}})
	case r.Method == "PATCH" && strings.HasPrefix(p, "/repos/o/r/git/refs/"):
		json.NewEncoder(w).Encode(map[string]any{"ref": "refs/" + strings.TrimPrefix(p, "/repos/o/r/git/refs/")})
	case r.Method == "POST" && p == "/repos/o/r/pulls":
		if f.FailPulls > 0 {
			f.FailPulls--
			w.WriteHeader(422)
			w.Write([]byte(`{"message":"Validation Failed"}`))
			return
		}
		var in map[string]any
		json.Unmarshal(b, &in)
		n := len(f.PRs) + 1
		pr := map[string]any{"number": n, "state": "open", "draft": in["draft"], "merged": false,
			"html_url": fmt.Sprintf("https://github.example/o/r/pull/%d", n), "head": map[string]any{"ref": in["head"]}, "body": in["body"]}
		f.PRs = append(f.PRs, pr)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(pr)
	case r.Method == "POST" && strings.HasSuffix(p, "/labels"):
		w.Write([]byte(`[]`))
	case r.Method == "POST" && strings.HasSuffix(p, "/requested_reviewers"):
		w.WriteHeader(201)
		w.Write([]byte(`{"number":1}`))
	case r.Method == "POST" && strings.HasSuffix(p, "/assignees"):
		w.WriteHeader(201)
		w.Write([]byte(`{"number":1}`))
	case r.Method == "POST" && strings.HasSuffix(p, "/comments"):
		var in map[string]any
		json.Unmarshal(b, &in)
		f.Comments = append(f.Comments, map[string]any{"id": len(f.Comments) + 1, "body": in["body"]})
		w.WriteHeader(201)
		w.Write([]byte(`{"id":1}`))
	case r.Method == "GET" && strings.HasSuffix(p, "/comments"):
		out := f.Comments
		if out == nil {
			out = []map[string]any{}
		}
		json.NewEncoder(w).Encode(out)
	default:
		w.WriteHeader(404)
		w.Write([]byte(`{"message":"Not Found"}`))
	}
}

func (f *Fake) checkJWT(h string) {
	tok, err := jwt.ParseWithClaims(strings.TrimPrefix(h, "Bearer "), &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return f.PubKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		f.JWTProblem = err.Error()
		return
	}
	c := tok.Claims.(*jwt.RegisteredClaims)
	now := time.Now()
	if c.Issuer != "123" || c.IssuedAt == nil || c.IssuedAt.After(now.Add(time.Second)) || c.ExpiresAt == nil || c.ExpiresAt.Sub(now) > 10*time.Minute || c.ExpiresAt.Before(now) {
		f.JWTProblem = fmt.Sprintf("claims %+v", c)
	}
}

// Count is how many requests matched key ("METHOD /path").
func (f *Fake) Count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.Seq {
		if s == key {
			n++
		}
	}
	return n
}
