package app

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/doctor"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets/awssm"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets/azkv"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets/gcpsm"
	"github.com/cloud-sre-agent/sre-agent/internal/telemetry"
)

// SecretStore builds the store with a backend for each scheme the config
// references (a cloud client is made only when it is used), over the
// egress transport.
func SecretStore(ctx context.Context, cfg config.Config, client *egress.Transport, aud audit.Appender, masker *telemetry.Masker, warn func(string, string)) (*secrets.Store, error) {
	backends := map[string]secrets.Backend{}
	for _, ref := range cfg.SecretRefs() {
		r, err := secrets.Parse(ref)
		if err != nil {
			continue
		}
		if _, ok := backends[r.Scheme]; ok {
			continue
		}
		build, ok := secretBackends[r.Scheme]
		if !ok {
			continue // env:// and file:// need no client
		}
		b, err := build(ctx, client)
		if err != nil {
			return nil, err
		}
		backends[r.Scheme] = b
	}
	onLoad := func(string) {}
	if masker != nil {
		onLoad = masker.Add
	}
	return secrets.New(secrets.Options{TTL: cfg.Secrets.TTL, Production: cfg.Production(), AllowEnv: cfg.Secrets.AllowEnvInProduction,
		Audit: aud, OnLoad: onLoad, Warn: warn}, backends), nil
}

func PrintChecks(w io.Writer, checks []doctor.Check) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, c.Detail)
	}
	tw.Flush()
}

// secretBackends build the client of each secret manager a reference's
// scheme names, by scheme; env:// and file:// are the secret store's own.
var secretBackends = map[string]func(ctx context.Context, tr *egress.Transport) (secrets.Backend, error){
	secrets.SchemeGCP: func(ctx context.Context, tr *egress.Transport) (secrets.Backend, error) { return gcpsm.NewADC(ctx, tr) },
	secrets.SchemeAWS: func(_ context.Context, tr *egress.Transport) (secrets.Backend, error) {
		return awssm.New(tr.Client()), nil
	},
	secrets.SchemeAzure: func(_ context.Context, tr *egress.Transport) (secrets.Backend, error) { return azkv.New(tr.Client()) },
}
