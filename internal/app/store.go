package app

import (
	"crypto/rand"
	"io"

	"github.com/spf13/cobra"

	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/store"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
)

// IncidentStore is what the commands need from a store, SQLite or
// PostgreSQL.
type IncidentStore interface {
	store.Store
	agent.Store
	pipeline.Store
}

// chainStore is a store that keeps the audit chains itself, one per
// replica beside the incidents (PostgreSQL); a store without it leaves
// the audit log to a file.
type chainStore interface {
	OpenAudit(ctx context.Context) (*audit.Log, error)
	AuditRecords(ctx context.Context) ([]audit.Record, error)
	AuditRecordsOf(ctx context.Context, fingerprint string) ([]audit.Record, error)
	VerifyAudit(ctx context.Context) ([]audit.ChainResult, error)
}

// replicaName is this process's name among replicas: the config's, else
// $SRE_AGENT_REPLICA, else the host name (a pod's name).
func replicaName(cfg config.Config) string {
	if cfg.Store.Replica != "" {
		return cfg.Store.Replica
	}
	if r := os.Getenv("SRE_AGENT_REPLICA"); r != "" {
		return r
	}
	host, _ := os.Hostname()
	return host
}

// openStore opens the configured store kind.
func openStore(ctx context.Context, cfg config.Config, p Paths, st *secrets.Store) (IncidentStore, error) {
	k, ok := storeKinds[cfg.Store.Type]
	if !ok {
		return nil, fmt.Errorf("store.type %q: unknown", cfg.Store.Type)
	}
	return k.open(ctx, cfg, p, st)
}

// storeName says where the store is, for people: never the DSN.
func storeName(cfg config.Config, p Paths) string {
	if cfg.Store.Type == "postgres" {
		return "postgres (" + cfg.Store.DSN + ")"
	}
	return p.Store
}

// auditLog is the audit log as the agent writes it.
type auditLog interface {
	audit.Appender
	Close() error
}

// pendingAudit holds the records of actions taken before the audit log
// could open (reading the PostgreSQL DSN from a secret manager is itself
// audited, and the chain lives in that database), and writes them first
// once it opens.
type pendingAudit struct {
	mu      sync.Mutex
	log     auditLog
	pending []audit.Record
}

func (a *pendingAudit) Append(ctx context.Context, r audit.Record) (audit.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log == nil {
		if r.Time.IsZero() {
			r.Time = time.Now().UTC()
		}
		a.pending = append(a.pending, r)
		return r, nil
	}
	return a.log.Append(ctx, r)
}

// attach opens the way to log and writes what was held.
func (a *pendingAudit) attach(ctx context.Context, log auditLog) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log = log
	for _, r := range a.pending {
		if _, err := log.Append(ctx, r); err != nil {
			return err
		}
	}
	a.pending = nil
	return nil
}

// Head is the open chain's head, when its log has one.
func (a *pendingAudit) Head() (audit.Head, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h, ok := a.log.(interface{ Head() audit.Head }); ok {
		return h.Head(), true
	}
	return audit.Head{}, false
}

func (a *pendingAudit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log == nil {
		if len(a.pending) > 0 {
			return errors.New("audit records were never written: the audit log did not open")
		}
		return nil
	}
	return a.log.Close()
}

// OpenStoreCLI opens the store for a command other than run. With
// PostgreSQL, reading the DSN is audited in this process's own chain.
func OpenStoreCLI(ctx context.Context, cfg config.Config, p Paths) (IncidentStore, func() error, error) {
	if cfg.Store.Type != "postgres" {
		if _, err := os.Stat(p.Store); err != nil {
			return nil, nil, fmt.Errorf("no store at %s (run `sre-agent run` or `analyze` first): %w", p.Store, err)
		}
		st, err := openStore(ctx, cfg, p, nil)
		return st, func() error { return nil }, err
	}
	aud := &pendingAudit{}
	secretSt, err := SecretStore(ctx, cfg, egress.New(cfg.Egress, aud, nil), aud, nil, func(string, string) {})
	if err != nil {
		return nil, nil, err
	}
	// Each command-line process writes its own chain segment: two
	// commands at once never race for one chain's next sequence number.
	cfg.Store.Replica = cliReplica(cfg)
	st, err := openStore(ctx, cfg, p, secretSt)
	if err != nil {
		return nil, nil, err
	}
	chains, ok := st.(chainStore)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("store %s keeps no audit chain", cfg.Store.Type)
	}
	log, err := chains.OpenAudit(ctx)
	if err == nil {
		err = aud.attach(ctx, log)
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, aud.Close, nil
}

// cliReplica names a command-line process's own audit chain segment.
func cliReplica(cfg config.Config) string {
	var nonce [4]byte
	rand.Read(nonce[:])
	return fmt.Sprintf("%s-cli-%d-%x", replicaName(cfg), os.Getpid(), nonce)
}

// ClosingStore closes the command's audit log with the store.
type ClosingStore struct {
	IncidentStore
	CloseAudit func() error
}

func (c ClosingStore) Close() error { return errors.Join(c.IncidentStore.Close(), c.CloseAudit()) }

// withChains opens the store for a command and hands fn the audit chains
// it keeps.
func withChains[T any](ctx context.Context, cfg config.Config, p Paths, fn func(chainStore) (T, error)) (T, error) {
	var zero T
	st, closeAudit, err := OpenStoreCLI(ctx, cfg, p)
	if err != nil {
		return zero, err
	}
	defer ClosingStore{st, closeAudit}.Close()
	chains, ok := st.(chainStore)
	if !ok {
		return zero, fmt.Errorf("store %s keeps no audit chain", cfg.Store.Type)
	}
	return fn(chains)
}

// AuditRecords reads the audit records: the log file, or every replica's
// chain in PostgreSQL.
func AuditRecords(ctx context.Context, cfg config.Config, p Paths) ([]audit.Record, error) {
	if cfg.Store.Type != "postgres" {
		return audit.ReadFile(p.Audit)
	}
	return withChains(ctx, cfg, p, func(c chainStore) ([]audit.Record, error) { return c.AuditRecords(ctx) })
}

// replicaChains verifies every replica's audit chain in PostgreSQL.
func replicaChains(ctx context.Context, cfg config.Config, p Paths) ([]audit.ChainResult, error) {
	return withChains(ctx, cfg, p, func(c chainStore) ([]audit.ChainResult, error) { return c.VerifyAudit(ctx) })
}

// VerifyChains is replicaChains as one result: the records verified, or
// the first broken chain.
func VerifyChains(ctx context.Context, cfg config.Config, p Paths) (int, error) {
	res, err := replicaChains(ctx, cfg, p)
	if err != nil {
		return 0, err
	}
	return postgres.Verdict(res)
}

// VerifyReplicaChains checks every replica's audit chain in PostgreSQL.
func VerifyReplicaChains(cmd *cobra.Command, cfg config.Config, p Paths, asJSON bool) error {
	res, err := replicaChains(cmd.Context(), cfg, p)
	if err != nil {
		return err
	}
	if asJSON {
		out := []Verification{}
		var bad []error
		for _, r := range res {
			v := Verification{Chain: "postgres replica " + r.Replica, OK: r.Err == nil, Records: r.Summary.Records, LastSeq: r.Summary.LastSeq}
			if r.Err != nil {
				v.Error = r.Err.Error()
				bad = append(bad, fmt.Errorf("replica %s: %w", r.Replica, r.Err))
			}
			out = append(out, v)
		}
		return errors.Join(append([]error{WriteJSON(cmd.OutOrStdout(), out)}, bad...)...)
	}
	var bad []error
	for _, r := range res {
		if r.Err != nil {
			fmt.Fprintf(cmd.OutOrStdout(), "FAIL: replica %s: %v\n", r.Replica, r.Err)
			bad = append(bad, fmt.Errorf("replica %s: %w", r.Replica, r.Err))
			continue
		}
		fmt.Fprintf(cmd.OutOrStdout(), "ok: replica %s: %d records, chain intact (last seq %d)\n", r.Replica, r.Summary.Records, r.Summary.LastSeq)
	}
	if len(res) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), "no audit records yet")
	}
	return errors.Join(bad...)
}

// Verification is one audit chain's check, as `audit verify --json`
// prints it.
type Verification struct {
	Chain   string `json:"chain"`
	OK      bool   `json:"ok"`
	Records int    `json:"records"`
	LastSeq int64  `json:"last_seq"`
	Error   string `json:"error,omitempty"`
}

// WriteVerification prints a file's verification as JSON, and returns
// the verification's error (the exit status says it too).
func WriteVerification(w io.Writer, path string, s audit.Summary, verr error) error {
	v := []Verification{{Chain: path, OK: verr == nil, Records: s.Records, LastSeq: s.LastSeq}}
	if verr != nil {
		v[0].Error = verr.Error()
	}
	if err := WriteJSON(w, v); err != nil {
		return err
	}
	if verr != nil {
		return fmt.Errorf("%s: %w", path, verr)
	}
	return nil
}
