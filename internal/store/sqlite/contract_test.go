package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/store"
	"github.com/cloud-sre-agent/sre-agent/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, reopenAfter time.Duration) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
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
		path := filepath.Join(t.TempDir(), "s.db")
		var out [2]store.Store
		for i := range out {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out[i] = s
		}
		return out[0], out[1]
	})
}
