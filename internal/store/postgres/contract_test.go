package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/store"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
	"github.com/cloud-sre-agent/sre-agent/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, reopenAfter time.Duration) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.DSN(t), "r1")
		if err != nil {
			t.Fatal(err)
		}
		s.ReopenAfter = reopenAfter
		t.Cleanup(func() { s.Close() })
		return s
	})
}
