package app

import (
	"context"
	"fmt"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/telemetry"
)

// session is what a command that acts (silences, acknowledgements, a test
// message) works with: the store (created if need be), an audit log that
// records every action (the file beside the store, or this command's own
// chain in PostgreSQL), secrets and egress that audit themselves, and a
// redactor that knows the secrets loaded.
type session struct {
	store    IncidentStore
	audit    audit.Appender
	secrets  *secrets.Store
	egress   *egress.Transport
	redactor *redact.Redactor
	// trail reads the audit log back (every replica's chain in
	// PostgreSQL).
	trail auditTrail
}

// auditTrail is the audit log read back: its records and its verdict.
type auditTrail interface {
	Records(ctx context.Context) ([]audit.Record, error)
	RecordsOf(ctx context.Context, fp domain.Fingerprint) ([]audit.Record, error)
	Verify(ctx context.Context) (string, error)
}

func withSession(ctx context.Context, cfg config.Config, dbFlag string, fn func(session) error) error {
	p, err := statePaths(cfg, dbFlag)
	if err != nil {
		return err
	}
	aud := &pendingAudit{}
	defer aud.Close()
	masker := &telemetry.Masker{}
	tr := egress.New(cfg.Egress, aud, nil)
	st, err := SecretStore(ctx, cfg, tr, aud, masker, func(string, string) {})
	if err != nil {
		return err
	}
	if cfg.Store.Type == "postgres" {
		cfg.Store.Replica = cliReplica(cfg)
	}
	store, err := openStore(ctx, cfg, p, st)
	if err != nil {
		return err
	}
	defer store.Close()
	var dest auditLog
	var trail auditTrail = fileTrail{p.Audit}
	if chains, ok := store.(chainStore); ok {
		trail = chainTrail{chains}
		dest, err = chains.OpenAudit(ctx)
	} else if cfg.Store.Type == "postgres" {
		return fmt.Errorf("store %s keeps no audit chain", cfg.Store.Type)
	} else {
		dest, err = audit.Open(p.Audit, replicaName(cfg))
	}
	if err == nil {
		err = aud.attach(ctx, dest)
	}
	if err != nil {
		return err
	}
	return fn(session{store: store, audit: aud, secrets: st, egress: tr, redactor: redact.New(cfg.Redact).WithKnown(masker), trail: trail})
}
