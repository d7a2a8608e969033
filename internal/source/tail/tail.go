// Package tail follows a log file the way `tail -F` does: it reads what is
// there, waits for more, and keeps following the path across rotation (the
// file renamed and a new one created) and truncation (copytruncate). It
// polls, which works on every filesystem, including network and overlay
// mounts where change notification does not.
//
// A Follower is an io.Reader. It hands out whole lines only (a line still
// being written waits, up to PartialAfter), and when it has nothing new it
// returns parse.ErrPause, so the record assembler can let go of a record
// it was holding back. It returns io.EOF once its context is done.
package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
)

// Options tune a Follower.
type Options struct {
	// Poll is how often the file is checked for more data and rotation.
	Poll time.Duration
	// PartialAfter is how long a line without its newline waits before it
	// is handed out as it is.
	PartialAfter time.Duration
	// FromEnd starts at the end of the file as it is now, instead of its
	// beginning.
	FromEnd bool
}

// DefaultOptions poll four times a second.
func DefaultOptions() Options {
	return Options{Poll: 250 * time.Millisecond, PartialAfter: 2 * time.Second}
}

// Follower reads a followed file. It is not safe for concurrent use.
type Follower struct {
	ctx  context.Context
	path string
	opts Options

	f       *os.File
	info    os.FileInfo
	offset  int64
	buf     []byte // read but not handed out: whole lines first
	partial time.Time
	paused  bool // a pause was reported since the last data
	// Rotations counts files followed after the first (renames,
	// re-creations) and truncations.
	Rotations int
}

// Follow opens path and follows it until ctx is done. A missing file is
// waited for.
func Follow(ctx context.Context, path string, opts Options) (*Follower, error) {
	if opts.Poll <= 0 {
		return nil, errors.New("tail: poll interval must be positive")
	}
	fl := &Follower{ctx: ctx, path: path, opts: opts}
	if err := fl.open(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if fl.f != nil && opts.FromEnd {
		fl.offset = fl.info.Size()
	}
	return fl, nil
}

func (fl *Follower) open() error {
	f, err := os.Open(fl.path)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	fl.f, fl.info, fl.offset = f, info, 0
	return nil
}

// Close releases the file.
func (fl *Follower) Close() error {
	if fl.f == nil {
		return nil
	}
	return fl.f.Close()
}

// Read implements io.Reader.
func (fl *Follower) Read(p []byte) (int, error) {
	for {
		if n := fl.handOut(p); n > 0 {
			fl.paused = false // a pause may follow this data
			return n, nil
		}
		got, err := fl.readMore()
		if err != nil {
			return 0, err
		}
		if got {
			continue
		}
		if fl.ctx.Err() != nil {
			// Stopping: what is left of a partial line goes out first.
			if len(fl.buf) > 0 {
				fl.buf = append(fl.buf, '\n')
				continue
			}
			return 0, io.EOF
		}
		if len(fl.buf) > 0 && time.Since(fl.partial) >= fl.opts.PartialAfter {
			fl.buf = append(fl.buf, '\n')
			continue
		}
		if !fl.paused {
			fl.paused = true
			return 0, parse.ErrPause
		}
		if err := fl.checkRotation(); err != nil {
			return 0, err
		}
		select {
		case <-fl.ctx.Done():
		case <-time.After(fl.opts.Poll):
		}
	}
}

// handOut copies whole lines from the buffer.
func (fl *Follower) handOut(p []byte) int {
	end := bytes.LastIndexByte(fl.buf, '\n') + 1
	if end == 0 {
		return 0
	}
	n := copy(p, fl.buf[:end])
	fl.buf = fl.buf[n:]
	if n == end && len(fl.buf) > 0 {
		fl.partial = time.Now() // what is left is a line still being written
	}
	return n
}

// readMore reads what the open file has past the offset.
func (fl *Follower) readMore() (bool, error) {
	if fl.f == nil {
		return false, nil
	}
	var chunk [64 << 10]byte
	n, err := fl.f.ReadAt(chunk[:], fl.offset)
	if n > 0 {
		if len(fl.buf) == 0 {
			fl.partial = time.Now()
		}
		fl.buf = append(fl.buf, chunk[:n]...)
		fl.offset += int64(n)
		return true, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("tail %s: %w", fl.path, err)
	}
	return false, nil
}

// checkRotation reopens the path when it now names another file, and
// starts over when the file shrank below the offset. The old file has
// been read to its end before this is called.
func (fl *Follower) checkRotation() error {
	info, err := os.Stat(fl.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // between rename and re-create, or not yet written
	}
	if err != nil {
		return fmt.Errorf("tail %s: %w", fl.path, err)
	}
	if fl.f == nil || !os.SameFile(info, fl.info) {
		if fl.f != nil {
			fl.f.Close()
			fl.f = nil
			fl.Rotations++
		}
		if err := fl.open(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tail %s: %w", fl.path, err)
		}
		return nil
	}
	if info.Size() < fl.offset {
		fl.offset = 0
		fl.Rotations++
	}
	return nil
}

// Pipe wraps a stream that may go quiet (stdin fed by `kubectl logs -f`,
// say) so that it reports parse.ErrPause after idle without data, and
// io.EOF when ctx is done even while the stream's own Read blocks. One
// goroutine reads ahead; it ends when the stream ends.
func Pipe(ctx context.Context, r io.Reader, idle time.Duration) io.Reader {
	p := &pipe{ctx: ctx, idle: idle, ch: make(chan chunk, 4)}
	go func() {
		for {
			buf := make([]byte, 64<<10)
			n, err := r.Read(buf)
			select {
			case p.ch <- chunk{buf[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

type chunk struct {
	b   []byte
	err error
}

type pipe struct {
	ctx    context.Context
	idle   time.Duration
	ch     chan chunk
	rest   []byte
	err    error
	paused bool
}

func (p *pipe) Read(b []byte) (int, error) {
	for len(p.rest) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		timer := time.NewTimer(p.idle)
		select {
		case c := <-p.ch:
			timer.Stop()
			p.rest, p.err = c.b, c.err
			p.paused = false
		case <-p.ctx.Done():
			timer.Stop()
			return 0, io.EOF
		case <-timer.C:
			if !p.paused {
				p.paused = true
				return 0, parse.ErrPause
			}
		}
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}
