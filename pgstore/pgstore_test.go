package pgstore_test

import (
	"context"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
	"github.com/linkmonitor/lms/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lms.Store { return open(t, pgtest.Start(t)) })
}
