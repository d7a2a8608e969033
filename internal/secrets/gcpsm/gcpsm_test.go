package gcpsm

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
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
