package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPostgresStore: lmsd over PostgreSQL sets up a fresh database, and a
// restart on the same database keeps the client, its password, its flags
// and its links' states.
func TestPostgresStore(t *testing.T) {
	dsn := pgtest.Start(t)
	dir := t.TempDir()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fine") }))
	defer page.Close()
	link := page.URL + "/a"
	checked := make(chan struct{}) // closed when the link's "ok" is pushed
	var once sync.Once
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, params, err := xmlrpcapi.DecodeCall(r.Body, xmlrpcapi.Limits{})
		if err == nil && m == "updateManyStates" && len(params) == 3 {
			for _, tr := range params[2].([]any) {
				if a, ok := tr.([]any); ok && len(a) >= 2 && a[0] == link && a[1] == "ok" {
					once.Do(func() { close(checked) })
				}
			}
		}
		resp, _ := xmlrpcapi.EncodeResponse(nil)
		_, _ = w.Write(resp)
	}))
	defer site.Close()
	start := func() (base string, stop func()) {
		ready := filepath.Join(dir, "ready")
		_ = os.Remove(ready)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-store", "postgres", "-dsn", dsn, "-admin-secret", secret, "-allow-private",
				"-mail-dir", filepath.Join(dir, "mail"), "-host-interval", "10ms", "-notify-interval", "10ms", "-ready-file", ready}, func(string) string { return "" }, io.Discard)
		}()
		base = "http://" + waitFile(t, ready) + "/"
		return base, func() {
			cancel()
			require.NoError(t, <-done)
		}
	}
	base, stop := start()
	c := newRPC(t, base)
	c.call(t, "registerClient", secret, "plone", site.URL+"/db", "Site Admin", "admin@site.example", "site-password-1")
	require.Equal(t, int64(2), c.call(t, "checkConnection", "plone", "site-password-1"))
	c.call(t, "registerURLs", "plone", "site-password-1", []any{link})
	// The push of the link's state is the signal that it was checked and
	// stored; the notifications go off after it.
	select {
	case <-checked:
	case <-time.After(20 * time.Second):
		t.Fatalf("link never checked: %v", c.call(t, "getURLStates", "plone", "site-password-1", []any{link}))
	}
	c.call(t, "setClientNotifications", "plone", "site-password-1", false)
	stop()

	base, stop = start()
	defer stop()
	c = newRPC(t, base)
	require.Equal(t, int64(2), c.call(t, "checkConnection", "plone", "site-password-1"), "the password survives the restart")
	require.Equal(t, false, c.call(t, "getClientNotifications", "plone", "site-password-1"), "the flag survives the restart")
	res := c.call(t, "registerURLs", "plone", "site-password-1", []any{link})
	require.Equal(t, []any{[]any{link, "ok", "OK"}}, res, "the state survives the restart")
}

// TestPostgresStartErrors: a missing admin secret and an unreachable
// server are one clear line each, within seconds.
func TestPostgresStartErrors(t *testing.T) {
	noenv := func(string) string { return "" }
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-store", "postgres", "-dsn", "postgres://lms@127.0.0.1:1/lms"}, noenv, io.Discard)
	require.ErrorContains(t, err, "-admin-secret")
	start := time.Now()
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-store", "postgres", "-dsn", "postgres://lms@127.0.0.1:1/lms", "-admin-secret", secret,
		"-mail-dir", t.TempDir()}, noenv, io.Discard)
	require.ErrorContains(t, err, "cannot connect to PostgreSQL at 127.0.0.1:1")
	require.NotContains(t, err.Error(), "\n")
	require.Less(t, time.Since(start), 10*time.Second)
	err = run(context.Background(), []string{"-store", "postgres", "-pg-max-conns", "0", "-admin-secret", secret}, noenv, io.Discard)
	require.ErrorContains(t, err, "-pg-max-conns")
}
