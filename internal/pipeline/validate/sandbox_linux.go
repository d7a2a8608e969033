package validate

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// isolate puts the tool in its own process group (killed whole on
// timeout) and, when netns, in a new network namespace with only a
// loopback device that is down: no connection leaves it.
func isolate(cmd *exec.Cmd, netns bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if netns {
		cmd.SysProcAttr.Cloneflags = netnsFlags
		if netnsFlags&syscall.CLONE_NEWUSER != 0 {
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
		}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

var (
	netnsOnce  sync.Once
	netnsErr   error
	netnsFlags uintptr
)

// netnsAvailable tries once whether this process may start a child in a
// new network namespace: directly (as root) or inside a new user
// namespace (where the kernel allows unprivileged ones).
func netnsAvailable() error {
	netnsOnce.Do(func() {
		tr, err := exec.LookPath("true")
		if err != nil {
			netnsErr = err
			return
		}
		for _, flags := range []uintptr{syscall.CLONE_NEWNET, syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET} {
			netnsFlags = flags
			cmd := exec.CommandContext(context.Background(), tr)
			isolate(cmd, true)
			if netnsErr = cmd.Run(); netnsErr == nil {
				return
			}
		}
	})
	return netnsErr
}
