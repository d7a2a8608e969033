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

func TestConversationContract(t *testing.T) {
	storetest.RunConversations(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := pgtest.DSN(t)
		var out [2]store.Store
		for i, replica := range []string{"r1", "r2"} {
			s, err := postgres.Open(context.Background(), dsn, replica)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out[i] = s
		}
		return out[0], out[1]
	})
}
