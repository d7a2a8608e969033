package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

func mcpCmd(load func() (config.Config, error)) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve incidents to an AI assistant over the Model Context Protocol on stdio (read-only, audited; docs/MCP.md)",
		Long: `Serve the agent's incidents, evidence and analyses to an AI assistant (Claude, Gemini CLI,
VS Code, Cursor) over the Model Context Protocol on stdin and stdout. The assistant starts this
command itself (docs/MCP.md has the configuration for each). Every tool is read-only; every call
is an audit record; log text and model prose come back as marked, redacted data. The running
agent serves the same tools at /mcp on its listener.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.ServeMCP(cmd.Context(), cfg, dbPath, io.NopCloser(cmd.InOrStdin()), nopWriteCloser{cmd.OutOrStdout()}, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "", dbHelp)
	return cmd
}

// nopWriteCloser leaves stdout open when the session ends.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
