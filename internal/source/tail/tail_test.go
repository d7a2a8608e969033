package tail

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
)

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// collect reads records until want lines arrived, reporting the count
// after each record to progress.
func collect(t *testing.T, a *parse.Assembler, want int, progress chan<- int) []string {
	t.Helper()
	var got []string
	for len(got) < want {
		rec, err := a.Next()
		if errors.Is(err, parse.ErrPause) {
			continue
		}
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, rec.Lines...)
		if progress != nil {
			progress <- len(got)
		}
	}
	return got
}

// untilEOF reads past pauses and wants the end next.
func untilEOF(t *testing.T, a *parse.Assembler) {
	t.Helper()
	for {
		_, err := a.Next()
		if errors.Is(err, parse.ErrPause) {
			continue
		}
		if err != io.EOF {
			t.Fatalf("after cancel: %v, want EOF", err)
		}
		return
	}
}

// when runs fn in the background once collect has reached n lines.
func when(progress <-chan int, steps map[int]func()) {
	go func() {
		for n := range progress {
			if fn := steps[n]; fn != nil {
				fn()
			}
		}
	}()
}

func opts() Options {
	return Options{Poll: 5 * time.Millisecond, PartialAfter: 200 * time.Millisecond}
}

func TestFollowsRenameRotationAndTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "one\ntwo\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fl, err := Follow(ctx, path, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	a := parse.NewAssembler(fl)
	progress := make(chan int, 16)
	defer close(progress)
	when(progress, map[int]func(){
		2: func() {
			appendFile(t, path, "three\n")
			// rotate: rename away, then a new file at the path
			os.Rename(path, path+".1")
			appendFile(t, path+".1", "four\n") // written to the old file after the rename
			appendFile(t, path, "five\n")
		},
		5: func() {
			// copytruncate: the same file cut to zero, then written again
			// once the follower has had time to see it shrink
			os.Truncate(path, 0)
			time.Sleep(100 * time.Millisecond)
			appendFile(t, path, "six\nseven\n")
		},
	})
	got := collect(t, a, 7, progress)
	if want := "one two three four five six seven"; strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
	if fl.Rotations != 2 {
		t.Fatalf("rotations %d, want 2", fl.Rotations)
	}
	cancel()
	untilEOF(t, a)
}

func TestWaitsForMissingFileAndPartialLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fl, err := Follow(ctx, path, opts())
	if err != nil {
		t.Fatal(err)
	}
	a := parse.NewAssembler(fl)
	appendFile(t, path, "first\nno newline yet")
	got := collect(t, a, 2, nil)
	if got[0] != "first" || got[1] != "no newline yet" {
		t.Fatalf("got %q", got)
	}
}

func TestFromEndSkipsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	appendFile(t, path, "old\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := opts()
	o.FromEnd = true
	fl, _ := Follow(ctx, path, o)
	a := parse.NewAssembler(fl)
	appendFile(t, path, "new\n")
	got := collect(t, a, 1, nil)
	if got[0] != "new" {
		t.Fatalf("got %q", got)
	}
}

func TestPipePausesWhenQuietAndEndsOnCancel(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	a := parse.NewAssembler(Pipe(ctx, pr, 20*time.Millisecond))
	go pw.Write([]byte("ERROR boom\n\tat a.B.c(B.java:1)\n"))
	// The stack record is handed over on the pause, not held until more
	// input or the end.
	got := collect(t, a, 2, nil)
	if got[0] != "ERROR boom" {
		t.Fatalf("got %q", got)
	}
	cancel() // the writer never closes: cancel must still end reading
	untilEOF(t, a)
}
