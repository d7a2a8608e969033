package gcpsm

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/api/option"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// The REST wire format of AccessSecretVersion, served locally.
func TestFetchThroughTheSDK(t *testing.T) {
	value := "s3cr3t-from-gcp"
	var sawPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawPath = r.URL.Path
		if r.URL.Path != "/v1/projects/p/secrets/gh/versions/2:access" {
			http.Error(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`, http.StatusNotFound)
			return
		}
		crc := crc32.Checksum([]byte(value), crc32.MakeTable(crc32.Castagnoli))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"projects/p/secrets/gh/versions/2","payload":{"data":%q,"dataCrc32c":"%d"}}`,
			base64.StdEncoding.EncodeToString([]byte(value)), crc)
	}))
	defer srv.Close()
	b, err := New(context.Background(), option.WithEndpoint(srv.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := secrets.New(secrets.Options{}, map[string]secrets.Backend{secrets.SchemeGCP: b})
	v, err := s.Get(context.Background(), "gcpsm://projects/p/secrets/gh/versions/2")
	if err != nil || v != value {
		t.Fatalf("%q %v (path %s)", v, err, sawPath)
	}
	if _, err := s.Get(context.Background(), "gcpsm://projects/p/secrets/missing/versions/1"); err == nil {
		t.Fatal("a missing secret resolved")
	}
}

// On GKE, Cloud Run or GCE the agent has no key file: Application Default
// Credentials get a token from the metadata server, and every Secret
// Manager call carries it. The fake Secret Manager refuses a call without
// that token, as the real one does.
func TestWorkloadIdentityThroughTheMetadataServer(t *testing.T) {
	const token = "ya29.workload-identity-token"
	var tokenRequests int
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/service-accounts/default/token"):
			tokenRequests++
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, token)
		case strings.HasSuffix(r.URL.Path, "/project/project-id"):
			w.Write([]byte("p"))
		case strings.HasSuffix(r.URL.Path, "/universe/universe-domain"):
			w.Write([]byte("googleapis.com"))
		default:
			w.Write([]byte(""))
		}
	}))
	defer meta.Close()
	value := "from-secret-manager"
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"projects/p/secrets/gh/versions/1","payload":{"data":%q}}`, base64.StdEncoding.EncodeToString([]byte(value)))
	}))
	defer sm.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(meta.URL, "http://"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	var through int
	base := roundTripper(func(r *http.Request) (*http.Response, error) {
		through++
		return http.DefaultTransport.RoundTrip(r)
	})
	b, err := NewADC(context.Background(), base, option.WithEndpoint(sm.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := secrets.New(secrets.Options{}, map[string]secrets.Backend{secrets.SchemeGCP: b})
	v, err := s.Get(context.Background(), "gcpsm://projects/p/secrets/gh/versions/1")
	if err != nil || v != value {
		t.Fatalf("%q %v", v, err)
	}
	if tokenRequests == 0 || through == 0 {
		t.Fatalf("token requests %d, calls through the egress transport %d", tokenRequests, through)
	}
	// The client the config used before (a plain HTTP client) is refused.
	plain, err := New(context.Background(), option.WithHTTPClient(http.DefaultClient), option.WithEndpoint(sm.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Fetch(context.Background(), secrets.Ref{Name: "projects/p/secrets/gh/versions/1"}); err == nil {
		t.Fatal("the strict fake accepted a call without credentials")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
