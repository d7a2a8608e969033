// Package azkv reads secrets from Azure Key Vault with the official SDK and
// DefaultAzureCredential (workload identity, managed identity, the CLI).
package azkv

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Backend keeps one client per vault.
type Backend struct {
	mu      sync.Mutex
	clients map[string]*azsecrets.Client
	cred    azcore.TokenCredential
	opts    *azsecrets.ClientOptions
	// VaultURL maps a vault name to its URL; the default is the public
	// cloud's https://NAME.vault.azure.net.
	VaultURL func(vault string) string
}

// New uses DefaultAzureCredential, with requests sent through client (the
// agent's egress transport; nil: the SDK's).
func New(client *http.Client) (*Backend, error) {
	var co azcore.ClientOptions
	if client != nil {
		co.Transport = client
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co})
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	return NewWith(cred, &azsecrets.ClientOptions{ClientOptions: co}), nil
}

// NewWith uses a given credential and client options (tests, sovereign
// clouds).
func NewWith(cred azcore.TokenCredential, opts *azsecrets.ClientOptions) *Backend {
	return &Backend{clients: map[string]*azsecrets.Client{}, cred: cred, opts: opts,
		VaultURL: func(v string) string { return "https://" + v + ".vault.azure.net" }}
}

func (b *Backend) client(vault string) (*azsecrets.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.clients[vault]; c != nil {
		return c, nil
	}
	c, err := azsecrets.NewClient(b.VaultURL(vault), b.cred, b.opts)
	if err != nil {
		return nil, err
	}
	b.clients[vault] = c
	return c, nil
}

// Fetch implements secrets.Backend.
func (b *Backend) Fetch(ctx context.Context, ref secrets.Ref) (string, error) {
	c, err := b.client(ref.Vault)
	if err != nil {
		return "", err
	}
	resp, err := c.GetSecret(ctx, ref.Name, ref.Version, nil)
	if err != nil {
		return "", err
	}
	if resp.Value == nil {
		return "", fmt.Errorf("secret %s/%s has no value", ref.Vault, ref.Name)
	}
	return *resp.Value, nil
}
