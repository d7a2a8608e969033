package app

import (
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/server"
)

// ProbeAddr is the config's loopback listener, or "".
func ProbeAddr(cfg config.Config) string {
	for _, a := range []string{cfg.HTTP.Addr, cfg.Dashboard.Addr} {
		if a != "" && server.Loopback(a) {
			return a
		}
	}
	return ""
}
