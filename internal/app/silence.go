package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
)

// silencesOf is every silence the pipeline obeys: the config's (always in
// force) and the store's.
func silencesOf(cfg config.Config, st interface {
	Silences(context.Context) ([]domain.Silence, error)
}) func(context.Context) ([]domain.Silence, error) {
	fixed, _ := cfg.ConfigSilences() // validated at load
	return func(ctx context.Context) ([]domain.Silence, error) {
		stored, err := st.Silences(ctx)
		if err != nil {
			return nil, err
		}
		return append(append([]domain.Silence(nil), fixed...), stored...), nil
	}
}

// Author is who a person's action is recorded as: the flag, else
// $SRE_AGENT_AUTHOR, else the login name.
func Author(flag string) string {
	if flag != "" {
		return flag
	}
	if a := os.Getenv("SRE_AGENT_AUTHOR"); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// SilenceSpec is what `silence add` was given.
type SilenceSpec struct {
	Matchers        []string
	Start, End      time.Time
	Author, Comment string
}

// AddSilence stores a silence and audits it; it returns the silence.
func AddSilence(ctx context.Context, cfg config.Config, dbFlag string, spec SilenceSpec) (domain.Silence, error) {
	now := time.Now().UTC()
	s := domain.Silence{Start: spec.Start, End: spec.End, Author: spec.Author, Comment: strings.TrimSpace(spec.Comment), Source: "cli", CreatedAt: now}
	if s.Start.IsZero() {
		s.Start = now
	}
	switch {
	case len(spec.Matchers) == 0:
		return s, errors.New("silence: give at least one matcher (service=checkout, template=*disk full*, ...): a silence of everything is refused")
	case s.Comment == "":
		return s, errors.New("silence: --comment is required: say why (a maintenance window, a known issue)")
	case s.End.IsZero() || !s.End.After(s.Start):
		return s, errors.New("silence: --duration or --until must end it after it starts")
	}
	for _, m := range spec.Matchers {
		pm, err := domain.ParseMatcher(m)
		if err != nil {
			return s, err
		}
		s.Matchers = append(s.Matchers, pm)
	}
	var b [6]byte
	rand.Read(b[:])
	s.ID = hex.EncodeToString(b[:])
	err := withSession(ctx, cfg, dbFlag, func(ss session) error {
		// A comment is a person's text: a pasted token must not be kept.
		s.Comment, s.Author = ss.redactor.Redact(s.Comment), ss.redactor.Redact(s.Author)
		if err := ss.store.SaveSilence(ctx, s); err != nil {
			return err
		}
		_, err := ss.audit.Append(ctx, audit.Record{Kind: audit.KindSilence, Outcome: "added", Fields: map[string]any{"silence": s.ID,
			"matchers": matcherText(s.Matchers), "start": s.Start, "end": s.End, "author": s.Author, "comment": s.Comment}})
		return err
	})
	return s, err
}

// ExpireSilence ends a silence now (id or a unique prefix) and audits it.
func ExpireSilence(ctx context.Context, cfg config.Config, dbFlag, id, author string) (domain.Silence, error) {
	var out domain.Silence
	err := withSession(ctx, cfg, dbFlag, func(ss session) error {
		all, err := ss.store.Silences(ctx)
		if err != nil {
			return err
		}
		var found []domain.Silence
		for _, s := range all {
			if strings.HasPrefix(s.ID, id) {
				found = append(found, s)
			}
		}
		switch {
		case id == "" || len(found) == 0:
			return fmt.Errorf("no silence %q (sre-agent silence list)", id)
		case len(found) > 1:
			return fmt.Errorf("silence %q names %d silences: give more of the id", id, len(found))
		}
		out = found[0]
		now := time.Now().UTC()
		if !out.Active(now) && !out.Start.After(now) {
			return fmt.Errorf("silence %s is not in force (it ended %s)", out.ID, when(out))
		}
		out.ExpiredAt = now
		if err := ss.store.SaveSilence(ctx, out); err != nil {
			return err
		}
		_, err = ss.audit.Append(ctx, audit.Record{Kind: audit.KindSilence, Outcome: "expired", Fields: map[string]any{"silence": out.ID, "author": author}})
		return err
	})
	return out, err
}

func when(s domain.Silence) string {
	if !s.ExpiredAt.IsZero() {
		return s.ExpiredAt.Format(time.RFC3339)
	}
	return s.End.Format(time.RFC3339)
}

func matcherText(ms []domain.Matcher) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// ListSilences prints the silences in force (all with all), the
// config's first.
func ListSilences(ctx context.Context, cfg config.Config, dbFlag string, all, asJSON bool, w io.Writer) error {
	st, err := OpenIncidents(ctx, func() (config.Config, error) { return cfg, nil }, dbFlag)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := silencesOf(cfg, st)(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	var out []domain.Silence
	for _, s := range list {
		if all || s.Active(now) || s.Start.After(now) {
			out = append(out, s)
		}
	}
	if asJSON {
		if out == nil {
			out = []domain.Silence{}
		}
		return WriteJSON(w, out)
	}
	tw := tabwriter.NewWriter(inert.TerminalWriter(w), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tSTARTS\tENDS\tAUTHOR\tCOMMENT")
	for _, s := range out {
		state := "active"
		switch {
		case s.Start.After(now):
			state = "pending"
		case !s.Active(now):
			state = "expired"
		}
		ends := "never (config)"
		if !s.End.IsZero() || !s.ExpiredAt.IsZero() {
			ends = when(s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, state, strings.Join(matcherText(s.Matchers), " "), s.Start.UTC().Format(time.RFC3339),
			ends, Clip(s.Author, 20), Clip(s.Comment, 60))
	}
	return tw.Flush()
}

// NoteIncident records a person's acknowledgement or resolution of an
// incident (id or a unique prefix), audited; resolving also ends its run
// (state resolved).
func NoteIncident(ctx context.Context, cfg config.Config, dbFlag, id, kind, author, text string, w io.Writer) error {
	return withSession(ctx, cfg, dbFlag, func(ss session) error {
		in, raw, err := ss.store.Find(ctx, id)
		if err != nil {
			return err
		}
		n := domain.Note{Fingerprint: in.Fingerprint, Kind: kind, Author: author, Text: ss.redactor.Redact(strings.TrimSpace(text)), At: time.Now().UTC()}
		if kind == "resolved" && in.State != domain.StateResolved {
			if len(raw) == 0 {
				raw = []byte(`{"number":1}`)
			}
			if err := ss.store.Advance(ctx, in.Fingerprint, domain.StateResolved, raw); err != nil {
				if errors.Is(err, domain.ErrLeaseLost) {
					return fmt.Errorf("incident %s is being worked by a replica right now: try again in a moment", in.Fingerprint.Short())
				}
				return err
			}
		}
		if err := ss.store.AddNote(ctx, n); err != nil {
			return err
		}
		if _, err := ss.audit.Append(ctx, audit.Record{Kind: audit.KindNote, Fingerprint: string(in.Fingerprint), Outcome: kind,
			Fields: map[string]any{"author": n.Author, "note": n.Text}}); err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s %s by %s\n", in.Fingerprint.Short(), kind, inert.Terminal(n.Author))
		return err
	})
}
