package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/report"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/progress"
	"golang.org/x/term"
)

// HeldNote says how many CRITICAL lines were recorded without an incident
// (isolated: no crash signature, no recurrence, no rate change) and shows
// the first few, so they are seen, not silently dropped.
func HeldNote(w io.Writer, results []analyze.Result) error {
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

// ExplainIncident prints why the incident whose fingerprint starts with id
// opened.
func ExplainIncident(w io.Writer, incidents []domain.Incident, id string, asJSON bool) error {
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

func WithLines(results []analyze.Result) []linedResult {
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

// WithInputs opens the named files ("-" is stdin), runs fn, and closes them.
func WithInputs(stdin io.Reader, args []string, fn func([]analyze.Input) error) error {
	var inputs []analyze.Input
	for _, a := range args {
		var r io.Reader = stdin
		name := "stdin"
		if a != "-" {
			f, err := os.Open(a)
			if err != nil {
				return fmt.Errorf("open input: %w", err)
			}
			defer f.Close()
			r, name = f, a
		}
		r, err := textInput(name, r)
		if err != nil {
			return err
		}
		inputs = append(inputs, analyze.Input{Name: a, Reader: r})
	}
	return fn(inputs)
}

// textInput refuses what is not a log: an empty input, or one whose first
// 8 KiB hold a NUL byte (a binary file, a compressed archive), with an
// error that says so instead of finding "no incidents" in it.
func textInput(name string, r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 8<<10)
	head, err := br.Peek(8 << 10)
	switch {
	case len(head) == 0 && err == io.EOF:
		return nil, fmt.Errorf("%s is empty: no log lines to read", name)
	case err != nil && err != io.EOF && err != bufio.ErrBufferFull:
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return nil, fmt.Errorf("%s is not a text log (a NUL byte at offset %d): decompress it, or give the log file itself", name, i)
	}
	return br, nil
}

func TotalSize(args []string) int64 {
	var n int64
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// WriteTemplates mines line by line (no multi-line joining, so rows match
// input lines) and prints each line with its final template.
func WriteTemplates(w io.Writer, r io.Reader, cfg config.Config, summary, asJSON bool) error {
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
	var uniq []*template.Cluster
	if summary {
		// Each template once (templates merged in the miner share an id),
		// most lines first.
		seen := map[domain.TemplateID]bool{}
		for _, c := range clusters {
			if !seen[c.ID()] {
				seen[c.ID()] = true
				uniq = append(uniq, c)
			}
		}
		sort.SliceStable(uniq, func(i, j int) bool { return uniq[i].Count() > uniq[j].Count() })
	}
	if asJSON {
		type row struct {
			Line     int               `json:"line,omitempty"`
			ID       domain.TemplateID `json:"template_id"`
			Count    int64             `json:"count,omitempty"`
			Template string            `json:"template"`
		}
		rows := []row{}
		if summary {
			for _, c := range uniq {
				rows = append(rows, row{ID: c.ID(), Count: c.Count(), Template: c.Template()})
			}
		} else {
			for i, c := range clusters {
				rows = append(rows, row{Line: i + 1, ID: c.ID(), Template: c.Template()})
			}
		}
		return WriteJSON(w, rows)
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if summary {
		cw.Write([]string{"template_id", "count", "template"})
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

// AnalyzeOptions are the analyze command's flags.
type AnalyzeOptions struct {
	JSON, Lines, NoStore bool
	// DB overrides the SQLite store path.
	DB string
	// Explain, when set, prints why that incident opened instead.
	Explain string
}

// Analyze reads the inputs (args, or "-" for stdin), saves what it finds
// in the configured store (SQLite, or PostgreSQL with this process's own
// audit chain) unless NoStore, and prints the incidents.
func Analyze(ctx context.Context, cfg config.Config, args []string, o AnalyzeOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	var store analyze.Store
	if !o.NoStore {
		p, err := statePaths(cfg, o.DB)
		if err != nil {
			return err
		}
		var closeStore func() error
		if cfg.Store.Type == "postgres" {
			st, closeAudit, err := OpenStoreCLI(ctx, cfg, p)
			if err != nil {
				return err
			}
			store, closeStore = st, ClosingStore{st, closeAudit}.Close
		} else {
			st, err := openStore(ctx, cfg, p, nil)
			if err != nil {
				return err
			}
			store, closeStore = st, st.Close
		}
		defer closeStore()
	}
	opts := analyze.Options{Redact: cfg.Redact, Template: cfg.Template, Detect: cfg.Detect, Parse: cfg.Parse, KeepLines: o.Lines}
	var bar *progress.Bar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progress.New(f, TotalSize(args))
		opts.Progress = bar
	}
	var results []analyze.Result
	err := WithInputs(stdin, args, func(inputs []analyze.Input) error {
		var err error
		results, err = analyze.Run(ctx, store, inputs, opts)
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
	switch {
	case o.Explain != "":
		return ExplainIncident(stdout, all, o.Explain, o.JSON)
	case o.JSON && o.Lines:
		return report.JSON(stdout, WithLines(results))
	case o.JSON:
		return report.JSON(stdout, results)
	}
	if err := report.Text(stdout, all); err != nil {
		return err
	}
	return HeldNote(stdout, results)
}
