package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

// probeCmd asks the running agent on this host whether it is alive (or
// ready): the exec probe for Kubernetes, since beyond loopback the health
// endpoints need the dashboard's token, which a kubelet httpGet probe
// cannot send. It asks the config's loopback listener (http.addr or
// dashboard.addr, which serves health whether the UI is on or not); it
// reads no secret, so a probe every few seconds adds nothing to the audit
// log.
func probeCmd(load func() (config.Config, error)) *cobra.Command {
	var ready bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Exit 0 when the agent on this host is alive (--ready: ready); for exec probes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			addr := app.ProbeAddr(cfg)
			if addr == "" {
				return fmt.Errorf("probe: no loopback listener to ask; set dashboard.addr (say 127.0.0.1:9470) beside a public http.addr")
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("probe: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("probe %s: %s", path, resp.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().BoolVar(&ready, "ready", false, "ask /readyz instead of /healthz")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait")
	return cmd
}
