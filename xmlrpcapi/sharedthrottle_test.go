package xmlrpcapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
)

// TestSharedThrottle: two API processes (two Servers, each with an engine
// over a pgstore of its own) on one database share the guessing throttle:
// the id's burst of wrong passwords, spread over both and over many
// addresses, uses it up in both; the right password still works through
// the process that last checked it (its bypass of good credentials).
func TestSharedThrottle(t *testing.T) {
	const burst = 4
	dsn := pgtest.Start(t)
	var urls []string
	for i := range 2 {
		st, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		e, err := lms.New(st, lms.Config{AdminSecret: gSecret, Components: lms.RunChecker})
		require.NoError(t, err)
		if i == 0 {
			_, err = e.RegisterClient(context.Background(), gSecret, lms.Registration{ID: gID, Password: "right-password", ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
			require.NoError(t, err)
		}
		s := NewServer(e, ServerConfig{Throttle: Throttle{IDBurst: burst, IDEvery: time.Hour, AddrBurst: 100, AddrEvery: time.Hour, Delay: -1},
			RemoteAddr: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }})
		require.True(t, s.guard.Throttle.Shared(), "a pgstore is a ThrottleStore")
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	try := func(i int, pw string) int {
		t.Helper()
		body, err := EncodeCall("checkConnection", gID, pw)
		require.NoError(t, err)
		req, err := http.NewRequest("POST", urls[i%2]+"/RPC2", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Test-Client", fmt.Sprintf("192.0.2.%d", i))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, try(0, "right-password"))
	for i := range burst {
		require.Equal(t, http.StatusUnauthorized, try(i, fmt.Sprint("guess-", i)), "guess %d", i)
	}
	for i := burst; i < burst+4; i++ {
		require.Equal(t, http.StatusTooManyRequests, try(i, fmt.Sprint("guess-", i)), "guess %d, past the burst of both processes together", i)
	}
	// The bypass of the id's last good credentials is each process's own:
	// the process that checked them lets them through, the other refuses.
	require.Equal(t, http.StatusOK, try(2, "right-password"), "the good password through the process that checked it")
	require.Equal(t, http.StatusTooManyRequests, try(3, "right-password"), "the good password through the other process")
}
