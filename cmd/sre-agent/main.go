// Command sre-agent watches logs, finds incidents and proposes fixes. This
// file only wires: it reads flags and config, builds the parts and runs them.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/report"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/progress"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

func main() {
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
	load := func() (config.Config, error) { return config.Load(cfgPath) }
	root.AddCommand(analyzeCmd(load), templatesCmd(load), redactCmd(load), runCmd(load), incidentsCmd(load), auditCmd(load), doctorCmd(load, &cfgPath), usageCmd(load), probeCmd(load), versionCmd())
	return root
}

func analyzeCmd(load func() (config.Config, error)) *cobra.Command {
	var asJSON, noStore, lines bool
	var dbPath, explain string
	cmd := &cobra.Command{
		Use:   "analyze FILE... (or - for stdin)",
		Short: "Print the incidents found in log files, most severe first",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if dbPath != "" {
				cfg.Store.Path = dbPath
			}
			var store analyze.Store
			if !noStore {
				path := cfg.Store.Path
				if path == "" {
					if path, err = sqlite.DefaultPath(); err != nil {
						return err
					}
				}
				st, err := sqlite.Open(cmd.Context(), path)
				if err != nil {
					return err
				}
				defer st.Close()
				store = st
			}
			opts := analyze.Options{Redact: cfg.Redact, Template: cfg.Template, Detect: cfg.Detect, Parse: cfg.Parse, KeepLines: lines}
			var bar *progress.Bar
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				bar = progress.New(f, totalSize(args))
				opts.Progress = bar
			}
			var results []analyze.Result
			err = withInputs(cmd.InOrStdin(), args, func(inputs []analyze.Input) error {
				results, err = analyze.Run(cmd.Context(), store, inputs, opts)
				return err
			})
			if bar != nil {
				bar.Done()
			}
			if err != nil {
				return err
			}
			var all []domain.Incident
			for _, r := range results {
				all = append(all, r.Incidents...)
			}
			if explain != "" {
				return explainIncident(cmd.OutOrStdout(), all, explain, asJSON)
			}
			if asJSON {
				if lines {
					return report.JSON(cmd.OutOrStdout(), withLines(results))
				}
				return report.JSON(cmd.OutOrStdout(), results)
			}
			if err := report.Text(cmd.OutOrStdout(), all); err != nil {
				return err
			}
			return heldNote(cmd.OutOrStdout(), results)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&lines, "lines", false, "with --json, list each incident's input line numbers")
	cmd.Flags().StringVar(&explain, "explain", "", "print why the incident with this id (or id prefix) opened: the rule, the windows, the baseline and the observed rate")
	cmd.Flags().StringVar(&dbPath, "db", "", "SQLite store path (default: config store.path, else the user's state directory)")
	cmd.Flags().BoolVar(&noStore, "no-store", false, "do not read or write the incident store")
	return cmd
}

// heldNote says how many CRITICAL lines were recorded without an incident
// (isolated: no crash signature, no recurrence, no rate change) and shows
// the first few, so they are seen, not silently dropped.
func heldNote(w io.Writer, results []analyze.Result) error {
	n := 0
	var shown []domain.HeldLine
	for _, r := range results {
		n += r.Stats.CriticalHeld
		shown = append(shown, r.Held...)
	}
	if n == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nheld: %d CRITICAL line(s) without an incident (isolated: no crash signature, no recurrence, no rate change; --json lists them)\n", n)
	for i, h := range shown {
		if i == 5 {
			break
		}
		fmt.Fprintf(w, "  line %d  %s\n", h.Line, inert.Terminal(h.Sample))
	}
	return nil
}

// explainIncident prints why the incident whose fingerprint starts with id
// opened.
func explainIncident(w io.Writer, incidents []domain.Incident, id string, asJSON bool) error {
	var found []domain.Incident
	for _, in := range incidents {
		if strings.HasPrefix(string(in.Fingerprint), id) {
			found = append(found, in)
		}
	}
	switch {
	case len(found) == 0:
		return fmt.Errorf("no incident %q in this input", id)
	case len(found) > 1:
		return fmt.Errorf("%d incidents start with %q: give more of the id", len(found), id)
	}
	if asJSON {
		return report.JSON(w, found[0])
	}
	return report.Explain(w, found[0])
}

// linedResult is a Result whose incidents list their input lines.
type linedResult struct {
	analyze.Result
	Incidents []linedIncident `json:"incidents"`
}

type linedIncident struct {
	domain.Incident
	Lines []int `json:"lines"`
}

func withLines(results []analyze.Result) []linedResult {
	out := make([]linedResult, len(results))
	for i, r := range results {
		out[i].Result = r
		out[i].Incidents = make([]linedIncident, len(r.Incidents))
		for j, in := range r.Incidents {
			out[i].Incidents[j] = linedIncident{Incident: in, Lines: in.Lines}
		}
	}
	return out
}

// withInputs opens the named files ("-" is stdin), runs fn, and closes them.
func withInputs(stdin io.Reader, args []string, fn func([]analyze.Input) error) error {
	var inputs []analyze.Input
	for _, a := range args {
		if a == "-" {
			inputs = append(inputs, analyze.Input{Name: "-", Reader: stdin})
			continue
		}
		f, err := os.Open(a)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		inputs = append(inputs, analyze.Input{Name: a, Reader: f})
	}
	return fn(inputs)
}

func totalSize(args []string) int64 {
	var n int64
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
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
			return withInputs(cmd.InOrStdin(), args, func(in []analyze.Input) error {
				return writeTemplates(cmd.OutOrStdout(), in[0].Reader, cfg, summary)
			})
		},
	}
	cmd.Flags().BoolVar(&summary, "summary", false, "print each template once with its count")
	return cmd
}

// writeTemplates mines line by line (no multi-line joining, so rows match
// input lines) and prints each line with its final template.
func writeTemplates(w io.Writer, r io.Reader, cfg config.Config, summary bool) error {
	m, err := template.New(cfg.Template)
	if err != nil {
		return err
	}
	lr := parse.NewLineReader(r)
	var p parse.Parser
	red := redact.New(cfg.Redact)
	var clusters []*template.Cluster
	for lr.Scan() {
		ev := p.ParseLine(lr.Text())
		clusters = append(clusters, m.Add(red.Redact(ev.Message)))
	}
	if err := lr.Err(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if summary {
		// Each template once (templates merged in the miner share an id),
		// most lines first.
		cw.Write([]string{"template_id", "count", "template"})
		seen := map[domain.TemplateID]bool{}
		var uniq []*template.Cluster
		for _, c := range clusters {
			if !seen[c.ID()] {
				seen[c.ID()] = true
				uniq = append(uniq, c)
			}
		}
		sort.SliceStable(uniq, func(i, j int) bool { return uniq[i].Count() > uniq[j].Count() })
		for _, c := range uniq {
			cw.Write([]string{string(c.ID()), strconv.FormatInt(c.Count(), 10), c.Template()})
		}
	} else {
		cw.Write([]string{"line", "template_id", "template"})
		for i, c := range clusters {
			cw.Write([]string{strconv.Itoa(i + 1), string(c.ID()), c.Template()})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
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
