package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

func silenceCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{Use: "silence", Short: "Mute incidents for a while: recorded and counted, not triaged, delivered or notified"}
	cmd.PersistentFlags().StringVar(&dbPath, "db", "", dbHelp)

	var spec app.SilenceSpec
	var duration time.Duration
	var start, until, author string
	add := &cobra.Command{
		Use:   "add MATCHER... (name=value: service, severity, template, template_id, fingerprint, label.KEY)",
		Short: "Add a silence; every matcher must hold (values are shell patterns: payments-*, *disk full*)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			spec.Matchers, spec.Author = args, app.Author(author)
			if spec.Start, err = parseTime("--start", start, now); err != nil {
				return err
			}
			if spec.Start.IsZero() {
				spec.Start = now
			}
			switch {
			case until != "" && duration != 0:
				return usageError{fmt.Errorf("give --duration or --until, not both")}
			case until != "":
				if spec.End, err = parseTime("--until", until, now); err != nil {
					return err
				}
			case duration > 0:
				spec.End = spec.Start.Add(duration)
			default:
				return usageError{fmt.Errorf("say how long: --duration 2h or --until 2026-12-03T07:00:00Z")}
			}
			s, err := app.AddSilence(cmd.Context(), cfg, dbPath, spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %s: until %s\n", s.ID, s.End.Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().DurationVar(&duration, "duration", 0, "how long it holds from its start (2h, 30m)")
	add.Flags().StringVar(&until, "until", "", "when it ends (RFC 3339)")
	add.Flags().StringVar(&start, "start", "", "when it starts (RFC 3339; default now)")
	add.Flags().StringVar(&author, "author", "", "who adds it (default $SRE_AGENT_AUTHOR, else the login name)")
	add.Flags().StringVar(&spec.Comment, "comment", "", "why (required): a maintenance window, a known issue and its ticket")

	var all, asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the silences in force and to come (--all: expired ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.ListSilences(cmd.Context(), cfg, dbPath, all, asJSON, cmd.OutOrStdout())
		},
	}
	list.Flags().BoolVar(&all, "all", false, "expired silences too")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var expAuthor string
	expire := &cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now (ID: its id or a unique prefix); its incidents resume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			s, err := app.ExpireSilence(cmd.Context(), cfg, dbPath, args[0], app.Author(expAuthor))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %s expired\n", s.ID)
			return nil
		},
	}
	expire.Flags().StringVar(&expAuthor, "author", "", "who ends it (default $SRE_AGENT_AUTHOR, else the login name)")
	cmd.AddCommand(add, list, expire)
	return cmd
}

func parseTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, usageError{fmt.Errorf("%s %q: want an RFC 3339 time (2026-12-03T07:00:00Z)", flag, v)}
	}
	return t, nil
}

// noteCmd is `incidents ack` and `incidents resolve`.
func noteCmd(load func() (config.Config, error), dbPath *string, use, kind, short string) *cobra.Command {
	var note, author string
	cmd := &cobra.Command{
		Use:               use + " ID",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIDs(load, dbPath),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.NoteIncident(cmd.Context(), cfg, *dbPath, args[0], kind, app.Author(author), note, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what you say of it (shown with the incident, audited)")
	cmd.Flags().StringVar(&author, "author", "", "who (default $SRE_AGENT_AUTHOR, else the login name)")
	return cmd
}
