package awssm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// The JSON-1.1 wire format of GetSecretValue, served locally.
func TestFetchThroughTheSDK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var in struct{ SecretId string }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch in.SecretId {
		case "prod/github":
			json.NewEncoder(w).Encode(map[string]string{"ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:prod/github", "Name": in.SecretId,
				"SecretString": `{"token":"github_pat_from_aws","other":"x"}`})
		case "plain":
			json.NewEncoder(w).Encode(map[string]string{"Name": in.SecretId, "SecretString": "plain-value"})
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
		}
	}))
	defer srv.Close()
	b := New(nil)
	b.Endpoint = srv.URL
	b.Load = func(_ context.Context, region string) (aws.Config, error) {
		return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, nil
	}
	s := secrets.New(secrets.Options{}, map[string]secrets.Backend{secrets.SchemeAWS: b})
	ctx := context.Background()
	if v, err := s.Get(ctx, "awssm://eu-west-1/prod/github#token"); err != nil || v != "github_pat_from_aws" {
		t.Fatalf("json key: %q %v", v, err)
	}
	if v, err := s.Get(ctx, "awssm://eu-west-1/plain"); err != nil || v != "plain-value" {
		t.Fatalf("plain: %q %v", v, err)
	}
	if _, err := s.Get(ctx, "awssm://eu-west-1/plain#token"); err == nil {
		t.Fatal("a key of a non-JSON secret resolved")
	}
	if _, err := s.Get(ctx, "awssm://eu-west-1/missing"); err == nil {
		t.Fatal("a missing secret resolved")
	}
}
