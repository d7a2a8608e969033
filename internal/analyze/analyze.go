// Package analyze runs whole inputs (files, stdin) through the ingest spine
// and saves what it found: the batch form of the agent used by
// `sre-agent analyze`.
package analyze

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// Store is what analyze needs from the incident store.
type Store interface {
	ingest.LearntStore
	Save(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident) error
}

// Input is one named stream.
type Input struct {
	Name   string // file path, or "-" for stdin
	Reader io.Reader
}

// Progress is told how far reading has got.
type Progress interface {
	Update(lines int, bytes int64)
}

// Options configures a run.
type Options struct {
	Redact   redact.Options
	Template template.Config
	Detect   detect.Config
	Parse    parse.Config
	Progress Progress
	// KeepLines records each incident's input line numbers.
	KeepLines bool
}

// Result is what one input gave.
type Result struct {
	Source    string            `json:"source"`
	Stats     ingest.Stats      `json:"stats"`
	Incidents []domain.Incident `json:"incidents"`
	// Held are CRITICAL lines recorded without an incident (at most 1000
	// listed; Stats.CriticalHeld counts them all).
	Held []domain.HeldLine `json:"held,omitempty"`
}

// Run analyses each input in turn with a fresh spine seeded from the store,
// and saves each input's findings under its own source key. store may be nil.
func Run(ctx context.Context, store Store, inputs []Input, opts Options) ([]Result, error) {
	red := redact.New(opts.Redact)
	var results []Result
	for _, in := range inputs {
		res, err := runOne(ctx, store, in, red, opts)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

// countingReader counts bytes read, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func runOne(ctx context.Context, store Store, in Input, red *redact.Redactor, opts Options) (Result, error) {
	miner, err := template.New(opts.Template)
	if err != nil {
		return Result{}, err
	}
	det, err := detect.New(opts.Detect)
	if err != nil {
		return Result{}, err
	}
	spine := ingest.New(red, miner, det)
	spine.DefaultService = ServiceFromName(in.Name)
	spine.SetParse(opts.Parse)
	spine.KeepLines = opts.KeepLines
	if store != nil {
		learnt, err := ingest.Load(ctx, store)
		if err != nil {
			return Result{}, err
		}
		spine.Seed(learnt)
	}
	// Stdin has no name to key its share of incidents by; its content hash
	// stands in, so the same input piped twice is not counted twice.
	hash := sha256.New()
	r := in.Reader
	if in.Name == "-" {
		r = io.TeeReader(r, hash)
	}
	cr := &countingReader{r: r}
	asm := parse.NewAssembler(cr)
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			if opts.Progress != nil {
				opts.Progress.Update(asm.LinesRead(), cr.n)
			}
		}
		rec, err := asm.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Result{}, fmt.Errorf("read %s: %w", in.Name, err)
		}
		spine.Record(rec)
	}
	if opts.Progress != nil {
		opts.Progress.Update(asm.LinesRead(), cr.n)
	}
	st := spine.Stats()
	st.Lines = asm.LinesRead()
	st.Truncated = asm.TruncatedLines()
	source := FileKey(in.Name)
	if in.Name == "-" {
		source = "stdin:sha256:" + hex.EncodeToString(hash.Sum(nil))
	}
	incidents := spine.Incidents()
	if store != nil {
		if err := store.Save(ctx, source, spine.Baselines(), incidents); err != nil {
			return Result{}, err
		}
	}
	held, _ := spine.Held()
	return Result{Source: source, Stats: st, Incidents: incidents, Held: held}, nil
}

// FileKey is a file's share key in the store, the same for `analyze` and
// `run`, so reading a file again replaces its share of each incident.
func FileKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return "file:" + abs
	}
	return path
}

// ServiceFromName names events of inputs that carry no service: the file's
// base name without extensions ("BGL_2k.log" -> "BGL_2k").
func ServiceFromName(name string) string {
	if name == "-" || name == "" {
		return "stdin"
	}
	base := filepath.Base(name)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}
