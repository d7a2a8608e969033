//go:build !linux

package validate

import (
	"errors"
	"os/exec"
	"time"
)

func isolate(cmd *exec.Cmd, _ bool) { cmd.WaitDelay = 5 * time.Second }

func netnsAvailable() error { return errors.New("network namespaces are Linux only") }
