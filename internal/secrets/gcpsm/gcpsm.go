// Package gcpsm reads secrets from Google Secret Manager with the official
// client, as the platform's identity (Application Default Credentials,
// Workload Identity). The payload's CRC32C is checked when the service
// sends it.
package gcpsm

import (
	"context"
	"fmt"
	"hash/crc32"
	"net/http"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Backend fetches secret versions.
type Backend struct {
	client *secretmanager.Client
}

// Scope is the OAuth scope Secret Manager calls need.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// NewADC opens a client that authenticates as the platform's identity
// (Application Default Credentials: a credentials file named by
// GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the metadata server under
// Workload Identity, GCE and Cloud Run) and sends its requests over base
// (the egress transport). A caller's HTTP client alone would carry no
// credentials: option.WithHTTPClient turns the SDK's own auth off.
func NewADC(ctx context.Context, base http.RoundTripper, opts ...option.ClientOption) (*Backend, error) {
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{Scope}})
	if err != nil {
		return nil, fmt.Errorf("secret manager: find Application Default Credentials: %w", err)
	}
	hc, err := httptransport.NewClient(&httptransport.Options{Credentials: creds, BaseRoundTripper: base})
	if err != nil {
		return nil, fmt.Errorf("secret manager: %w", err)
	}
	return New(ctx, append([]option.ClientOption{option.WithHTTPClient(hc)}, opts...)...)
}

// New opens a REST client with opts as given (a test endpoint, an HTTP
// client that already authenticates).
func New(ctx context.Context, opts ...option.ClientOption) (*Backend, error) {
	c, err := secretmanager.NewRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("secret manager client: %w", err)
	}
	return &Backend{client: c}, nil
}

// Close closes the client.
func (b *Backend) Close() error { return b.client.Close() }

// Fetch implements secrets.Backend.
func (b *Backend) Fetch(ctx context.Context, ref secrets.Ref) (string, error) {
	resp, err := b.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: ref.Name})
	if err != nil {
		return "", err
	}
	p := resp.GetPayload()
	if p.DataCrc32C != nil && int64(crc32.Checksum(p.GetData(), crc32.MakeTable(crc32.Castagnoli))) != p.GetDataCrc32C() {
		return "", fmt.Errorf("secret %s: payload checksum mismatch", ref.Name)
	}
	return string(p.GetData()), nil
}
