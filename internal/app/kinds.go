package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/github"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/gitlab"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/local"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/source/gocloud"
	"github.com/cloud-sre-agent/sre-agent/internal/source/tail"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

// The registries: one entry per value of a `type` setting, saying what
// the kind's settings must hold and how it is built. Config knows the
// shape of the settings and nothing of the kinds; Check reads these
// entries, and so does the wiring. Adding a kind is its package and one
// entry here (docs/ARCHITECTURE.md).

// targetKind is one delivery.type.
type targetKind struct {
	check func(config.Delivery) error
	build func(ctx context.Context, cfg config.Config, st *secrets.Store, tr *egress.Transport, log *slog.Logger) (delivery.Deliverer, error)
}

var targetKinds = map[string]targetKind{
	"local": {
		check: func(d config.Delivery) error { return d.Local.Validate() },
		build: func(_ context.Context, cfg config.Config, _ *secrets.Store, _ *egress.Transport, _ *slog.Logger) (delivery.Deliverer, error) {
			c := cfg.Delivery.Local
			c.Links = cfg.Links
			return local.New(c)
		},
	},
	"github": {
		check: func(d config.Delivery) error { return d.GitHub.Validate() },
		build: func(ctx context.Context, cfg config.Config, st *secrets.Store, tr *egress.Transport, log *slog.Logger) (delivery.Deliverer, error) {
			c := cfg.Delivery.GitHub
			c.Links = cfg.Links
			t, classic, err := github.New(ctx, c, st, tr)
			if err != nil {
				return nil, err
			}
			if classic {
				log.Warn("a classic GitHub personal access token is in use: it works, but a fine-grained token or a GitHub App limits it to the repositories it needs")
			}
			return t, nil
		},
	},
	"gitlab": {
		check: func(d config.Delivery) error { return d.GitLab.Validate() },
		build: func(_ context.Context, cfg config.Config, st *secrets.Store, tr *egress.Transport, _ *slog.Logger) (delivery.Deliverer, error) {
			c := cfg.Delivery.GitLab
			c.Links = cfg.Links
			return gitlab.New(c, st, tr)
		},
	},
}

// sourceEnv is what building a source may use beyond its settings.
type sourceEnv struct {
	paths   Paths
	stdin   io.Reader
	closers *[]func()
}

// sourceKind is one sources[].type.
type sourceKind struct {
	check func(config.Source) error
	build func(ctx context.Context, s config.Source, env sourceEnv) (agent.Source, error)
}

// checkDecode is the check of every message transport's decoding.
func checkDecode(s config.Source) error { return s.DecodeFor().Validate() }

var sourceKinds = map[string]sourceKind{
	"file": {
		check: func(s config.Source) error {
			if s.Path == "" {
				return errors.New("a file source needs a path")
			}
			return nil
		},
		build: func(_ context.Context, s config.Source, _ sourceEnv) (agent.Source, error) {
			if !s.Follow {
				if _, err := os.Stat(s.Path); err != nil {
					return agent.Source{}, fmt.Errorf("source %s: %w", s.Path, err)
				}
			}
			// The file's name, not its path, labels metrics: no host
			// directory layout in what Prometheus keeps.
			return agent.Source{Name: "file:" + filepath.Base(s.Path), Key: analyze.FileKey(s.Path),
				Service: firstNonEmpty(s.Service, analyze.ServiceFromName(s.Path)),
				Open: func(ctx context.Context) (io.ReadCloser, error) {
					if !s.Follow {
						return os.Open(s.Path)
					}
					opts := tail.DefaultOptions()
					opts.FromEnd = s.FromEnd
					return tail.Follow(ctx, s.Path, opts)
				}}, nil
		},
	},
	"stdin": {
		check: func(s config.Source) error {
			if s.Follow || s.Path != "" {
				return errors.New("stdin takes no path or follow")
			}
			return nil
		},
		build: func(_ context.Context, s config.Source, env sourceEnv) (agent.Source, error) {
			started := time.Now().UTC().Format(time.RFC3339Nano)
			return agent.Source{Name: "stdin", Key: "stdin:" + started, Service: firstNonEmpty(s.Service, "stdin"),
				Open: func(ctx context.Context) (io.ReadCloser, error) {
					return io.NopCloser(tail.Pipe(ctx, env.stdin, 500*time.Millisecond)), nil
				}}, nil
		},
	},
	"pubsub": {
		check: func(s config.Source) error { return errors.Join(s.PubSub.Validate(), checkDecode(s)) },
		build: func(ctx context.Context, s config.Source, env sourceEnv) (agent.Source, error) {
			return messageSource(ctx, s, env.paths, env.closers)
		},
	},
	"url": {
		check: func(s config.Source) error { return errors.Join(gocloud.CheckURL(s.URL), checkDecode(s)) },
		build: func(ctx context.Context, s config.Source, env sourceEnv) (agent.Source, error) {
			return messageSource(ctx, s, env.paths, env.closers)
		},
	},
}

// storeKind is one store.type.
type storeKind struct {
	check func(config.Store) error
	open  func(ctx context.Context, cfg config.Config, p Paths, st *secrets.Store) (IncidentStore, error)
}

var storeKinds = map[string]storeKind{
	"sqlite": {
		check: func(s config.Store) error {
			if s.DSN != "" {
				return errors.New("store.dsn is for type: postgres")
			}
			return nil
		},
		open: func(ctx context.Context, cfg config.Config, p Paths, _ *secrets.Store) (IncidentStore, error) {
			s, err := sqlite.Open(ctx, p.Store)
			if err != nil {
				return nil, err
			}
			s.ReopenAfter = cfg.Pipeline.ReopenAfter
			return s, nil
		},
	},
	"postgres": {
		check: func(s config.Store) error {
			if s.DSN == "" {
				return errors.New("store: type postgres needs dsn, a secret reference to the connection string")
			}
			if s.LeaseTTL < time.Second {
				return fmt.Errorf("store.lease_ttl %v: want at least 1s", s.LeaseTTL)
			}
			return nil
		},
		// The connection string is read through the secret store, never
		// from the config itself.
		open: func(ctx context.Context, cfg config.Config, _ Paths, st *secrets.Store) (IncidentStore, error) {
			dsn, err := st.Get(ctx, cfg.Store.DSN)
			if err != nil {
				return nil, fmt.Errorf("store.dsn: %w", err)
			}
			// A replica's shares are named source@replica@start, and an
			// adopted one own|old: the name may not hold '@' or '|'.
			if r := replicaName(cfg); strings.ContainsAny(r, "|@") {
				return nil, fmt.Errorf("store.replica (or $SRE_AGENT_REPLICA) %q: may not contain '|' or '@'", r)
			}
			// A replica says it is alive every flush; three flushes missed
			// and its held templates are another's to take.
			if cfg.Store.LeaseTTL < 3*cfg.FlushEvery {
				return nil, fmt.Errorf("store.lease_ttl %v: want at least three flush_every (%v)", cfg.Store.LeaseTTL, cfg.FlushEvery)
			}
			s, err := postgres.Open(ctx, dsn, replicaName(cfg))
			if err != nil {
				return nil, err
			}
			s.ReopenAfter, s.LeaseTTL = cfg.Pipeline.ReopenAfter, cfg.Store.LeaseTTL
			return s, nil
		},
	},
}

func names[K any](m map[string]K) string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Check validates what config cannot: that each `type` names a kind this
// build has, and that the kind's settings hold.
func Check(cfg config.Config) error {
	sk, ok := storeKinds[cfg.Store.Type]
	if !ok {
		return fmt.Errorf("store.type %q: want one of %s", cfg.Store.Type, names(storeKinds))
	}
	if err := sk.check(cfg.Store); err != nil {
		return err
	}
	for i, s := range cfg.Sources {
		k, ok := sourceKinds[s.Type]
		if !ok {
			return fmt.Errorf("sources[%d]: unknown type %q (this build has: %s)", i, s.Type, names(sourceKinds))
		}
		if err := k.check(s); err != nil {
			return fmt.Errorf("sources[%d]: %w", i, err)
		}
	}
	seen := map[string]bool{}
	for i, t := range append([]string{cfg.Delivery.Type}, cfg.Delivery.Also...) {
		field := "delivery.type"
		if i > 0 {
			field = fmt.Sprintf("delivery.also[%d]", i-1)
		}
		tk, ok := targetKinds[t]
		if !ok {
			return fmt.Errorf("%s: unknown type %q (this build has: %s)", field, t, names(targetKinds))
		}
		if seen[t] {
			return fmt.Errorf("%s: %s is named twice", field, t)
		}
		seen[t] = true
		if err := tk.check(cfg.Delivery); err != nil {
			return err
		}
	}
	return checkNotify(cfg.Notify)
}

// Load reads the configuration file (defaults where it is empty or
// absent) and checks it whole: config's own settings, then the kinds.
func Load(path string) (config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, err
	}
	if err := Check(cfg); err != nil {
		if path == "" {
			return cfg, err
		}
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}
