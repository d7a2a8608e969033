package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/doctor"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
)

func doctorCmd(load func() (config.Config, error), cfgPath *string) *cobra.Command {
	var asJSON bool
	var dbPath string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the agent's security posture: credentials, scopes, endpoints, files, audit log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, p, err := app.LoadPaths(load, dbPath)
			if err != nil {
				return err
			}
			tr := egress.New(cfg.Egress, nil, nil)
			st, err := app.SecretStore(cmd.Context(), cfg, tr, nil, nil, nil)
			if err != nil {
				return err
			}
			in := doctor.Inputs{Config: cfg, ConfigPath: *cfgPath, AuditPath: p.Audit, Secrets: st, HTTP: tr.Client()}
			if cfg.Store.Type == "postgres" {
				in.AuditChains = func(ctx context.Context) (int, error) { return app.VerifyChains(ctx, cfg, p) }
			}
			checks := append(doctor.Run(cmd.Context(), in), app.ReceiverChecks(cmd.Context(), cfg, st, tr.Client())...)
			if asJSON {
				if err := app.WriteJSON(cmd.OutOrStdout(), checks); err != nil {
					return err
				}
			} else {
				app.PrintChecks(cmd.OutOrStdout(), checks)
			}
			if doctor.Failed(checks) {
				return fmt.Errorf("doctor: some checks failed")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&dbPath, "db", "", dbHelp)
	return cmd
}
