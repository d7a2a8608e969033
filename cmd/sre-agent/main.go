// Command sre-agent watches logs, finds incidents and proposes fixes. This
// file only wires: it reads flags and config, builds the parts and runs them.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

func main() {
	app.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sre-agent:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var cfgPath string
	root := &cobra.Command{
		Use:           "sre-agent",
		Short:         "Find incidents in logs and propose fixes for people to review",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&cfgPath, "config", "", "configuration file (YAML); the embedded defaults when empty")
	load := func() (config.Config, error) { return app.Load(cfgPath) }
	root.AddCommand(analyzeCmd(load), templatesCmd(load), redactCmd(load), runCmd(load), incidentsCmd(load), auditCmd(load), doctorCmd(load, &cfgPath), usageCmd(load), probeCmd(load), notifyCmd(load), versionCmd())
	return root
}

func analyzeCmd(load func() (config.Config, error)) *cobra.Command {
	var o app.AnalyzeOptions
	cmd := &cobra.Command{
		Use:   "analyze FILE... (or - for stdin)",
		Short: "Print the incidents found in log files, most severe first",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.Analyze(cmd.Context(), cfg, args, o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.Lines, "lines", false, "with --json, list each incident's input line numbers")
	cmd.Flags().StringVar(&o.Explain, "explain", "", "print why the incident with this id (or id prefix) opened: the rule, the windows, the baseline and the observed rate")
	cmd.Flags().StringVar(&o.DB, "db", "", "SQLite store path (default: config store.path, else the user's state directory)")
	cmd.Flags().BoolVar(&o.NoStore, "no-store", false, "do not read or write the incident store")
	return cmd
}

func templatesCmd(load func() (config.Config, error)) *cobra.Command {
	var summary bool
	cmd := &cobra.Command{
		Use:   "templates FILE",
		Short: "Print line,template_id,template for every input line (or --summary)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.WithInputs(cmd.InOrStdin(), args, func(in []analyze.Input) error {
				return app.WriteTemplates(cmd.OutOrStdout(), in[0].Reader, cfg, summary)
			})
		},
	}
	cmd.Flags().BoolVar(&summary, "summary", false, "print each template once with its count")
	return cmd
}

func redactCmd(load func() (config.Config, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "redact",
		Short: "Copy stdin to stdout with secrets and personal data replaced",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			red := redact.New(cfg.Redact)
			lr := parse.NewLineReader(cmd.InOrStdin())
			bw := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			for lr.Scan() {
				bw.WriteString(red.Redact(lr.Text()))
				bw.WriteByte('\n')
			}
			if err := lr.Err(); err != nil {
				return err
			}
			return bw.Flush()
		},
	}
}
