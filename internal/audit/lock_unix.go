//go:build unix

package audit

import (
	"encoding/json"
	"fmt"
	"syscall"
)

// lockHead locks the log file against every other writer (another
// process's Log on the same file: the daemon, a command that acts, the
// MCP server). When another has written since this process did (the file
// no longer ends where this process left it), it reads where the chain
// ends now (moved), so a record extends the chain as it is on disk.
func (fb *fileBackend) lockHead() (Head, bool, func(), error) {
	fd := int(fb.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return Head{}, false, nil, fmt.Errorf("lock audit log: %w", err)
	}
	unlock := func() { syscall.Flock(fd, syscall.LOCK_UN) }
	fail := func(err error) (Head, bool, func(), error) { unlock(); return Head{}, false, nil, err }
	st, err := fb.f.Stat()
	if err != nil {
		return fail(fmt.Errorf("read audit log: %w", err))
	}
	if st.Size() == fb.end {
		return Head{}, false, unlock, nil
	}
	last, err := lastLine(fb.f)
	if err != nil {
		return fail(fmt.Errorf("read audit log: %w", err))
	}
	if last == nil {
		fb.end = st.Size()
		return Head{}, true, unlock, nil
	}
	var r Record
	if err := json.Unmarshal(last, &r); err != nil {
		return fail(fmt.Errorf("audit log: last record does not parse: %w", err))
	}
	fb.end = st.Size()
	return Head{Seq: r.Seq, Hash: sum(last)}, true, unlock, nil
}
