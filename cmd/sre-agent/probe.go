package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
	"github.com/cloud-sre-agent/sre-agent/internal/server"
)

// probeCmd asks the running agent on this host whether it is alive (or
// ready): the exec probe for Kubernetes, since beyond loopback the health
// endpoints need the dashboard's token, which a kubelet httpGet probe
// cannot send. It asks a loopback listener when the config has one, else
// http.addr on 127.0.0.1 with the token.
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
			addr, needsToken := probeAddr(cfg)
			if addr == "" {
				return fmt.Errorf("probe: no http.addr or dashboard.addr to ask")
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
			if err != nil {
				return err
			}
			if needsToken && cfg.Dashboard.Token != "" {
				st, err := secretStore(ctx, cfg, egress.New(cfg.Egress, nil, nil), nil, nil, func(string, string) {})
				if err != nil {
					return err
				}
				tok, err := st.Get(ctx, cfg.Dashboard.Token)
				if err != nil {
					return fmt.Errorf("probe: dashboard.token: %w", err)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
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

// probeAddr is where to ask on this host: a loopback listener (no token
// needed), else http.addr's port on 127.0.0.1 (the token needed).
func probeAddr(cfg config.Config) (string, bool) {
	for _, a := range []string{cfg.HTTP.Addr, cfg.Dashboard.Addr} {
		if a != "" && server.Loopback(a) && (a == cfg.HTTP.Addr || !cfg.Dashboard.Disabled) {
			return a, false
		}
	}
	if cfg.HTTP.Addr == "" {
		return "", false
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		return "", false
	}
	return net.JoinHostPort("127.0.0.1", port), true
}
