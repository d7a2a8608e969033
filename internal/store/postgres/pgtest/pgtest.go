// Package pgtest gives a test its own schema on the real PostgreSQL the
// machine runs (127.0.0.1:5432, or SRE_AGENT_TEST_POSTGRES). In CI a
// missing server fails the test; elsewhere it skips with how to start one.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BaseDSN is the server tests use.
func BaseDSN() string {
	if d := os.Getenv("SRE_AGENT_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// DSN creates a fresh schema, dropped when the test ends, and returns a
// DSN whose connections use it.
func DSN(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, BaseDSN())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is not reachable (.ci/run starts it): %v", err)
		}
		t.Skipf("PostgreSQL is not reachable; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (%v)", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, BaseDSN()); err == nil {
			c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(ctx)
		}
	})
	u, err := url.Parse(BaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
