// Package backoff holds the one wait every retrying client uses.
package backoff

import (
	"context"
	"time"
)

// Sleep waits d, or returns ctx's error if it ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
