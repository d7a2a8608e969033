package main

import (
	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

func notifyCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{Use: "notify", Short: "Work with notification receivers (notify.receivers)"}
	test := &cobra.Command{
		Use:   "test RECEIVER",
		Short: "Send a sample incident to one receiver, to see how it looks there (audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.NotifyTestCLI(cmd.Context(), cfg, dbPath, args[0], cmd.OutOrStdout())
		},
	}
	test.Flags().StringVar(&dbPath, "db", "", dbHelp)
	cmd.AddCommand(test)
	return cmd
}
