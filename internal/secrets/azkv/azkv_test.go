package azkv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Key Vault's wire protocol, challenge included, over TLS.
func TestFetchThroughTheSDK(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-token" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/tenant", resource="https://vault.azure.net"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/secrets/gh-token") {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"SecretNotFound","message":"not found"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value":"from-key-vault","id":"https://v.vault.azure.net/secrets/gh-token/1"}`))
	}))
	defer srv.Close()
	b := NewWith(staticToken{}, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
		DisableChallengeResourceVerification: true})
	b.VaultURL = func(string) string { return srv.URL }
	s := secrets.New(secrets.Options{}, map[string]secrets.Backend{secrets.SchemeAzure: b})
	if v, err := s.Get(context.Background(), "azkv://myvault/gh-token"); err != nil || v != "from-key-vault" {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := s.Get(context.Background(), "azkv://myvault/missing"); err == nil {
		t.Fatal("a missing secret resolved")
	}
}
