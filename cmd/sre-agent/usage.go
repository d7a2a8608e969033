package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

func usageCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath, day string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Print today's model calls, tokens and spend by provider and model (from the audit log)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, p, err := app.LoadPaths(load, dbPath)
			if err != nil {
				return err
			}
			if day == "" {
				day = time.Now().UTC().Format(time.DateOnly)
			} else if _, err := time.Parse(time.DateOnly, day); err != nil {
				return usageError{fmt.Errorf("--day %q: want a date, YYYY-MM-DD", day)}
			}
			recs, err := app.AuditRecords(cmd.Context(), cfg, p)
			if err != nil {
				return err
			}
			rows := audit.SpendOn(recs, day)
			if asJSON {
				return app.WriteJSON(cmd.OutOrStdout(), rows)
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
	cmd.Flags().StringVar(&dbPath, "db", "", dbHelp)
	cmd.Flags().StringVar(&day, "day", "", "UTC day, YYYY-MM-DD (default today)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
