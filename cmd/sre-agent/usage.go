package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

// spend is one provider and model's use on a day.
type spend struct {
	Provider     string  `json:"provider"`
	Model        string  `json:"model"`
	Calls        int     `json:"calls"`
	Cached       int     `json:"cached"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// usageOn sums the model calls the audit log records on day (UTC).
func usageOn(r io.Reader, day string) ([]spend, error) {
	by := map[[2]string]*spend{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if rec.Kind != audit.KindModelCall || rec.Time.UTC().Format("2006-01-02") != day {
			continue
		}
		str := func(k string) string { s, _ := rec.Fields[k].(string); return s }
		num := func(k string) float64 { f, _ := rec.Fields[k].(float64); return f }
		key := [2]string{str("provider"), str("model")}
		s := by[key]
		if s == nil {
			s = &spend{Provider: key[0], Model: key[1]}
			by[key] = s
		}
		s.Calls++
		if c, _ := rec.Fields["cached"].(bool); c {
			s.Cached++
		}
		s.InputTokens += int64(num("input_tokens"))
		s.OutputTokens += int64(num("output_tokens"))
		s.CostUSD += num("cost_usd")
	}
	out := make([]spend, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Model < out[j].Model
	})
	return out, sc.Err()
}

func usageCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath, day string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Print today's model calls, tokens and spend by provider and model (from the audit log)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, p, err := loadPaths(load, dbPath)
			if err != nil {
				return err
			}
			if day == "" {
				day = time.Now().UTC().Format("2006-01-02")
			}
			f, err := os.Open(p.audit)
			if err != nil {
				return fmt.Errorf("open audit log: %w", err)
			}
			defer f.Close()
			rows, err := usageOn(f, day)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "PROVIDER\tMODEL\tCALLS\tCACHED\tINPUT TOKENS\tOUTPUT TOKENS\tCOST USD\n")
			var total float64
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.4f\n", r.Provider, r.Model, r.Calls, r.Cached, r.InputTokens, r.OutputTokens, r.CostUSD)
				total += r.CostUSD
			}
			fmt.Fprintf(tw, "total\t\t\t\t\t\t%.4f\n", total)
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "", "store path whose directory holds the default audit log")
	cmd.Flags().StringVar(&day, "day", "", "UTC day, YYYY-MM-DD (default today)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
