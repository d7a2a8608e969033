//go:build unix

package audit

import (
	"encoding/json"
	"fmt"
	"syscall"
)

// lockHead locks the log file against every other writer (another
// process's Log on the same file: the daemon, a command that acts, the
// MCP server) and reads where the chain ends now, so a record extends
// the chain as it is on disk, not as this process last saw it.
func (fb *fileBackend) lockHead() (Head, func(), error) {
	fd := int(fb.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return Head{}, nil, fmt.Errorf("lock audit log: %w", err)
	}
	unlock := func() { syscall.Flock(fd, syscall.LOCK_UN) }
	last, err := lastLine(fb.f)
	if err != nil {
		unlock()
		return Head{}, nil, fmt.Errorf("read audit log: %w", err)
	}
	if last == nil {
		return Head{}, unlock, nil
	}
	var r Record
	if err := json.Unmarshal(last, &r); err != nil {
		unlock()
		return Head{}, nil, fmt.Errorf("audit log: last record does not parse: %w", err)
	}
	return Head{Seq: r.Seq, Hash: sum(last)}, unlock, nil
}
