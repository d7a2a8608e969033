// Package awssm reads secrets from AWS Secrets Manager with the official
// SDK and the default credential chain (IRSA, instance roles, SSO). A
// reference's "#key" picks one key of a JSON secret.
package awssm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Backend keeps one client per region.
type Backend struct {
	mu      sync.Mutex
	clients map[string]*secretsmanager.Client
	// Load builds the AWS config for a region; the default uses the
	// default credential chain. Tests point it at a local endpoint.
	Load func(ctx context.Context, region string) (aws.Config, error)
	// Endpoint overrides the service endpoint (tests, VPC endpoints).
	Endpoint string
}

// New returns a backend on the default credential chain, sending its
// requests through client (the agent's egress transport; nil: the SDK's).
func New(client *http.Client) *Backend {
	return &Backend{clients: map[string]*secretsmanager.Client{}, Load: func(ctx context.Context, region string) (aws.Config, error) {
		opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
		if client != nil {
			opts = append(opts, config.WithHTTPClient(client))
		}
		return config.LoadDefaultConfig(ctx, opts...)
	}}
}

func (b *Backend) client(ctx context.Context, region string) (*secretsmanager.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.clients[region]; c != nil {
		return c, nil
	}
	cfg, err := b.Load(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("aws config for %s: %w", region, err)
	}
	c := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if b.Endpoint != "" {
			o.BaseEndpoint = aws.String(b.Endpoint)
		}
	})
	b.clients[region] = c
	return c, nil
}

// Fetch implements secrets.Backend.
func (b *Backend) Fetch(ctx context.Context, ref secrets.Ref) (string, error) {
	c, err := b.client(ctx, ref.Region)
	if err != nil {
		return "", err
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Name)})
	if err != nil {
		return "", err
	}
	v := aws.ToString(out.SecretString)
	if v == "" && out.SecretBinary != nil {
		v = string(out.SecretBinary)
	}
	if ref.JSONKey == "" {
		return v, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return "", fmt.Errorf("secret %s is not JSON, so #%s cannot be picked", ref.Name, ref.JSONKey)
	}
	s, ok := m[ref.JSONKey].(string)
	if !ok {
		return "", fmt.Errorf("secret %s has no string key %q", ref.Name, ref.JSONKey)
	}
	return s, nil
}
