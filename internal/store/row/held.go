package row

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// HeldStatements are a store's statements for held templates: Put
// (share, service, template_id, events, dropped, at) upserts a row, Gone
// (share, service, template_id) deletes one, Adopt (share) deletes an
// adopted share's rows.
type HeldStatements struct{ Put, Gone, Adopt string }

// SaveHeld writes a save's held changes with exec, in the save's
// transaction: the adopted shares' rows go first, then this share's.
func SaveHeld(ctx context.Context, exec func(ctx context.Context, q string, args ...any) error, share string, h domain.HeldChanges, now any, st HeldStatements) error {
	for _, a := range h.Adopted {
		if err := exec(ctx, st.Adopt, a); err != nil {
			return fmt.Errorf("delete the held templates of %s: %w", a, err)
		}
	}
	for _, g := range h.Gone {
		if err := exec(ctx, st.Gone, share, g.Service, string(g.Template)); err != nil {
			return fmt.Errorf("delete held template %s: %w", g.Template, err)
		}
	}
	for _, p := range h.Put {
		b, err := json.Marshal(p.Events)
		if err != nil {
			return fmt.Errorf("held template %s: %w", p.Template, err)
		}
		if err := exec(ctx, st.Put, share, p.Service, string(p.Template), string(b), p.Dropped, now); err != nil {
			return fmt.Errorf("save held template %s: %w", p.Template, err)
		}
	}
	return nil
}

// ScanHeld reads rows of (share, service, template_id, events, dropped)
// into held templates by share.
func ScanHeld(rows Rows) (map[string][]domain.HeldTemplate, error) {
	out := map[string][]domain.HeldTemplate{}
	for rows.Next() {
		var share, svc, id, events string
		var dropped int64
		if err := rows.Scan(&share, &svc, &id, &events, &dropped); err != nil {
			return nil, fmt.Errorf("load held templates: %w", err)
		}
		h := domain.HeldTemplate{Service: svc, Template: domain.TemplateID(id), Dropped: dropped}
		if err := json.Unmarshal([]byte(events), &h.Events); err != nil {
			return nil, fmt.Errorf("held template %s of %s: %w", id, share, err)
		}
		out[share] = append(out[share], h)
	}
	return out, rows.Err()
}

// SaveDetector writes a save's detector state under source.
func SaveDetector(ctx context.Context, exec func(ctx context.Context, q string, args ...any) error, source string, states []domain.DetectorState, put string) error {
	for _, d := range states {
		if err := exec(ctx, put, source, d.Service, string(d.Template), string(d.State)); err != nil {
			return fmt.Errorf("save detector state of %s: %w", d.Service, err)
		}
	}
	return nil
}

// ScanDetector reads rows of (service, template_id, state).
func ScanDetector(rows Rows) ([]domain.DetectorState, error) {
	var out []domain.DetectorState
	for rows.Next() {
		var svc, id, state string
		if err := rows.Scan(&svc, &id, &state); err != nil {
			return nil, fmt.Errorf("load detector state: %w", err)
		}
		out = append(out, domain.DetectorState{Service: svc, Template: domain.TemplateID(id), State: []byte(state)})
	}
	return out, rows.Err()
}
