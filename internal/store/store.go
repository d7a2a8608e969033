// Package store is the port incidents are kept by: what every store
// (internal/store/sqlite for one agent, internal/store/postgres for
// replicas) does the same way, held to it by the contract suite in
// internal/store/storetest. Consumers declare the smaller interfaces they
// use; this one names the common ground.
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Store keeps incidents, their runs, the baselines the detector learnt and
// the message keys already saved.
type Store interface {
	// Save replaces source's share of each incident (counts, samples,
	// timeline) and merges the baselines.
	Save(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident) error
	// SaveSeen is Save with the message keys it covers, in one commit.
	SaveSeen(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident, seen []string) error
	// Commit is one flush of a source in one transaction: its share of
	// the incidents, the baselines, its held templates (deleting those of
	// the shares it adopted) and the message keys. A message is
	// acknowledged only after the commit that names its key.
	Commit(ctx context.Context, sv domain.Save) error
	// Held reads the held templates of the shares whose names start with
	// prefix, by share.
	Held(ctx context.Context, prefix string) (map[string][]domain.HeldTemplate, error)
	// DetectorState reads what a source's detector last saved.
	DetectorState(ctx context.Context, source string) ([]domain.DetectorState, error)
	Seen(ctx context.Context, keys []string) (map[string]bool, error)
	PruneSeen(ctx context.Context, before time.Time) (int64, error)

	Incident(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, error)
	Incidents(ctx context.Context) ([]domain.Incident, error)
	// Query reads one page of the incidents a query selects, in SQL, and
	// how many match; Services the services incidents were seen in.
	Query(ctx context.Context, q domain.Query) (domain.Page, error)
	Services(ctx context.Context) ([]string, error)
	// Find resolves an id prefix to one incident and its run.
	Find(ctx context.Context, id string) (*domain.Incident, json.RawMessage, error)
	Pending(ctx context.Context, limit int) ([]domain.Incident, error)
	CountByState(ctx context.Context) (map[domain.State]int, error)
	Advance(ctx context.Context, fp domain.Fingerprint, state domain.State, run json.RawMessage) error
	LoadRun(ctx context.Context, fp domain.Fingerprint) (json.RawMessage, error)

	// ClaimConversation, ReleaseConversation and Conversations keep what each notification
	// receiver was told about each incident; a claim is held by one
	// agent (replica) at a time, so no change is told twice.
	ClaimConversation(ctx context.Context, fp domain.Fingerprint, receiver string, lease time.Duration) (domain.Conversation, bool, error)
	ReleaseConversation(ctx context.Context, n domain.Conversation) error
	Conversations(ctx context.Context, fp domain.Fingerprint) ([]domain.Conversation, error)

	// SaveSilence and Silences keep silences; AddNote and Notes what
	// people said of incidents (acknowledged, resolved).
	SaveSilence(ctx context.Context, s domain.Silence) error
	Silences(ctx context.Context) ([]domain.Silence, error)
	AddNote(ctx context.Context, n domain.Note) error
	Notes(ctx context.Context, fp domain.Fingerprint) ([]domain.Note, error)

	Templates(ctx context.Context) ([]domain.Template, error)
	Baselines(ctx context.Context) ([]domain.Baseline, error)
	Close() error
}
