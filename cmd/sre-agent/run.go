package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runCmd(load func() (config.Config, error)) *cobra.Command {
	var follow bool
	var httpAddr, dbPath, outDir, auditPath string
	cmd := &cobra.Command{
		Use:   "run [LOGFILE...]",
		Short: "Run the agent: read logs, find incidents, triage, analyse and propose fixes",
		Long: `Run the agent daemon. It reads the named log files (or the config's sources,
or stdin when there are none), finds incidents, and takes each through triage,
root-cause analysis and remediation, gates the proposal and delivers it.

On the embedded defaults it needs no cloud account and no key: the offline
provider answers, and reports go to ./out. Files are read to their end unless
--follow (or a source's follow: true) keeps following them across rotation.
It exits when its inputs end and the incidents in flight are done, or on
SIGINT/SIGTERM; a restart resumes incidents that were mid-pipeline.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("http-addr") {
				cfg.HTTP.Addr = httpAddr
			}
			if outDir != "" {
				cfg.Delivery.Local.Dir = outDir
			}
			if auditPath != "" {
				cfg.Audit.Path = auditPath
			}
			return app.RunAgent(cmd.Context(), cfg, dbPath, args, follow, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep following the named files as they grow and rotate")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "health and metrics address (default: config http.addr, "+config.DefaultHTTPAddr+"); empty turns it off")
	cmd.Flags().StringVar(&dbPath, "db", "", dbHelp)
	cmd.Flags().StringVar(&outDir, "out", "", "report directory for local delivery (default: config delivery.local.dir, ./out)")
	cmd.Flags().StringVar(&auditPath, "audit", "", "audit log path (default: config audit.path, else beside the store)")
	return cmd
}

func incidentsCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath string
	var asJSON bool
	cmd := &cobra.Command{Use: "incidents", Short: "List and show incidents in the store"}
	cmd.PersistentFlags().StringVar(&dbPath, "db", "", dbHelp)
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	var lo app.ListOptions
	var since string
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, most severe first (--state, --service, --since, --search, --limit)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if lo.Since, err = domain.ParseSince(since, time.Now()); err != nil {
				return usageError{fmt.Errorf("--since %w", err)}
			}
			if lo.Limit < 0 {
				return usageError{fmt.Errorf("--limit %d: want 0 (all) or more", lo.Limit)}
			}
			st, err := app.OpenIncidents(cmd.Context(), load, dbPath)
			if err != nil {
				return err
			}
			defer st.Close()
			lo.JSON = asJSON
			return app.ListIncidents(cmd.Context(), st, cmd.OutOrStdout(), lo)
		},
	}
	list.Flags().StringSliceVar(&lo.States, "state", nil, "only incidents in these states (new, triaged, analyzed, proposed, delivered, rejected, not-actionable, failed); repeatable or comma-separated")
	list.Flags().StringSliceVar(&lo.Services, "service", nil, "only incidents of these services (shell patterns: payments-*); repeatable or comma-separated")
	list.Flags().StringVar(&since, "since", "", "only incidents seen since: a duration back from now (24h), a date or an RFC 3339 time")
	list.Flags().StringVar(&lo.Search, "search", "", "only incidents whose templates, samples, stack, service, id, triage category or root cause hold this text (case-insensitive)")
	list.Flags().IntVar(&lo.Limit, "limit", 0, "at most this many (0: all)")
	show := &cobra.Command{
		Use:               "show ID",
		Short:             "Show one incident with its pipeline run (ID: the fingerprint or a unique prefix)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIDs(load, &dbPath),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			tree, err := app.NotifyTree(cfg)
			if err != nil {
				return err
			}
			st, err := app.OpenIncidents(cmd.Context(), load, dbPath)
			if err != nil {
				return err
			}
			defer st.Close()
			return app.ShowIncidentByID(cmd.Context(), st, args[0], cmd.OutOrStdout(), asJSON, tree, cfg.Links)
		},
	}
	cmd.AddCommand(list, show,
		noteCmd(load, &dbPath, "ack", "acknowledged", "Acknowledge an incident: someone is on it (audited)"),
		noteCmd(load, &dbPath, "resolve", "resolved", "Resolve an incident: its run ends (state resolved) until new events re-open it (audited)"))
	return cmd
}

func auditCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath string
	var anchors []string
	var asJSON bool
	cmd := &cobra.Command{Use: "audit", Short: "Work with the audit log"}
	verify := &cobra.Command{
		Use:   "verify [FILE]",
		Short: "Check the audit log's hash chain; name the first bad record",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, p, err := app.LoadPaths(load, dbPath)
			if err != nil {
				return err
			}
			if cfg.Store.Type == "postgres" && len(args) == 0 {
				return app.VerifyReplicaChains(cmd, cfg, p, asJSON)
			}
			path := p.Audit
			if len(args) == 1 {
				path = args[0]
			}
			s, err := audit.VerifyFile(path)
			if asJSON {
				return app.WriteVerification(cmd.OutOrStdout(), path, s, err)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(anchors) > 0 {
				heads, err := app.ParseAnchors(anchors)
				if err != nil {
					return err
				}
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := audit.VerifyAnchors(f, heads...); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %s holds all %d anchors\n", path, len(heads))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s: %d records, chain intact (last seq %d)\n", path, s.Records, s.LastSeq)
			return nil
		},
	}
	verify.Flags().StringArrayVar(&anchors, "anchor", nil, "a chain head kept elsewhere: SEQ:HASH, or @FILE of the agent's JSON log (its \"audit anchor\" lines); repeatable")
	verify.Flags().StringVar(&dbPath, "db", "", dbHelp)
	verify.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(verify)
	return cmd
}

// completeIDs completes an incident id from the store (`sre-agent
// completion bash|zsh|fish|powershell` installs it), each with its service
// and leading template as the description.
func completeIDs(load func() (config.Config, error), dbPath *string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		st, err := app.OpenIncidents(cmd.Context(), load, *dbPath)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		defer st.Close()
		all, err := st.Incidents(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, in := range all {
			id := string(in.Fingerprint)
			if !strings.HasPrefix(id, prefix) {
				continue
			}
			desc := in.Service
			if len(in.Templates) > 0 {
				desc += ": " + in.Templates[0].Text
			}
			out = append(out, cobra.CompletionWithDesc(id, inert.Terminal(app.Clip(desc, 60))))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
