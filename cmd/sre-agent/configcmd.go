package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

func configCmd(load func() (config.Config, error), cfgPath *string) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show or check the configuration (docs/CONFIG.md lists every key)"}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration: defaults, the file, then SRE_AGENT_* variables (credentials are references, never values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if asJSON {
				return app.WriteJSON(cmd.OutOrStdout(), cfg)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# file: %s\n", configFile(*cfgPath))
			b, err := yaml.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a configuration file (default: --config, else the user's default file) and exit 1 if it is wrong",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := *cfgPath
			if len(args) == 1 {
				path = args[0]
			}
			if _, err := app.Load(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s\n", configFile(path))
			return nil
		},
	}
	cmd.AddCommand(show, validate)
	return cmd
}

// configFile says which file a command reads.
func configFile(flag string) string {
	if flag != "" {
		return flag
	}
	if p := config.DefaultPath(); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "none (the embedded defaults)"
}
