// Package gcpsm reads secrets from Google Secret Manager with the official
// client, as the platform's identity (Application Default Credentials,
// Workload Identity). The payload's CRC32C is checked when the service
// sends it.
package gcpsm

import (
	"context"
	"fmt"
	"hash/crc32"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Backend fetches secret versions.
type Backend struct {
	client *secretmanager.Client
}

// New opens a REST client (opts: a test endpoint, a shared HTTP client).
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
