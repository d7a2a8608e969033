// Package app wires the agent from its configuration: the store, the audit
// log, secrets, egress, the model provider, the delivery target and the
// sources, for the daemon (`run`) and the one-shot commands; and renders
// what those commands print. cmd/sre-agent holds only the cobra commands
// that call it.
package app

// Version is the binary's version; main sets it from its linker flag.
var Version = "dev"
