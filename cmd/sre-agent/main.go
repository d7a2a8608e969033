// Command sre-agent watches logs, finds incidents and proposes fixes. This
// file only wires: it reads flags and config, builds the parts and runs them.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// Exit codes: 0 done, 1 an error, 2 a usage error (an unknown command or
// flag, a wrong number of arguments, a bad flag value), 130 interrupted
// (SIGINT or SIGTERM while the command was working).
const (
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	app.Version = version
	// The first SIGINT or SIGTERM asks the command to stop (the daemon
	// finishes the step in flight); a second SIGINT ends the process.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var got atomic.Value
	go func() {
		got.Store(<-sigs)
		cancel()
		if <-sigs == os.Interrupt {
			fmt.Fprintln(os.Stderr, "sre-agent: interrupted again: exiting now")
			os.Exit(exitInterrupted)
		}
	}()
	signalled := func() os.Signal { s, _ := got.Load().(os.Signal); return s }
	os.Exit(exitCode(ctx, newRoot(), os.Stderr, signalled))
}

// exitCode runs root and says how the process ends: a daemon stopped by
// SIGTERM ends 0; Ctrl-C (SIGINT), or a signal that cut a command short,
// ends 130.
func exitCode(ctx context.Context, root *cobra.Command, stderr io.Writer, signalled func() os.Signal) int {
	err := root.ExecuteContext(ctx)
	var usage usageError
	sig := signalled()
	switch {
	case sig == os.Interrupt || (sig != nil && err != nil):
		fmt.Fprintln(stderr, "sre-agent: interrupted")
		return exitInterrupted
	case err == nil:
		return 0
	case errors.As(err, &usage) || strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintf(stderr, "sre-agent: %v\nRun 'sre-agent --help' for usage.\n", err)
		return exitUsage
	}
	fmt.Fprintln(stderr, "sre-agent:", err)
	return exitError
}

// usageError is a command line the commands do not take.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// asUsage marks the argument and flag errors of every command as usage
// errors.
func asUsage(c *cobra.Command) {
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, sub := range c.Commands() {
		asUsage(sub)
	}
}

func newRoot() *cobra.Command {
	var cfgPath, logLevel string
	root := &cobra.Command{
		Use:           "sre-agent",
		Short:         "Find incidents in logs and propose fixes for people to review",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildInfo(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&cfgPath, "config", "", "configuration file (YAML); the embedded defaults when empty")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "", "the agent's own log level: debug, info, warn or error (overrides log.level)")
	load := func() (config.Config, error) {
		cfg, err := app.Load(cfgPath)
		if err != nil || logLevel == "" {
			return cfg, err
		}
		cfg.Log.Level = logLevel
		if err := cfg.Validate(); err != nil {
			return cfg, usageError{fmt.Errorf("--log-level: %w", err)}
		}
		return cfg, nil
	}
	root.AddCommand(analyzeCmd(load), templatesCmd(load), redactCmd(load), runCmd(load), incidentsCmd(load), auditCmd(load), doctorCmd(load, &cfgPath), usageCmd(load), probeCmd(load), notifyCmd(load), silenceCmd(load), configCmd(load, &cfgPath), mcpCmd(load), versionCmd())
	asUsage(root)
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
	cmd.Flags().StringVar(&o.DB, "db", "", dbHelp)
	cmd.Flags().BoolVar(&o.NoStore, "no-store", false, "do not read or write the incident store")
	return cmd
}

func templatesCmd(load func() (config.Config, error)) *cobra.Command {
	var summary, asJSON bool
	cmd := &cobra.Command{
		Use:   "templates FILE (or - for stdin)",
		Short: "Print line,template_id,template for every input line (or --summary; --json)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.WithInputs(cmd.InOrStdin(), args, func(in []analyze.Input) error {
				return app.WriteTemplates(cmd.OutOrStdout(), in[0].Reader, cfg, summary, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&summary, "summary", false, "print each template once with its count, most lines first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
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

// dbHelp is what --db means in every command: the SQLite store, beside
// which the audit log lives unless audit.path says otherwise.
const dbHelp = "SQLite store path (default: config store.path, else the user's state directory); the audit log is audit.jsonl beside it unless audit.path is set"
