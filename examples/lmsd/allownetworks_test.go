package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// serveOn starts a test server listening on addr (a loopback address).
func serveOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// TestAllowNetworks: -allow-networks lets checks and callbacks reach the
// networks it names, and only those, while -allow-private stays off (an
// intranet operator no longer has to open every private address).
func TestAllowNetworks(t *testing.T) {
	fine := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>fine</html>") })
	inside := serveOn(t, "127.0.0.1", fine)
	outside := serveOn(t, "127.0.0.2", fine)
	// The callback's pushes are the signal: each carries states.
	var mu sync.Mutex
	pushed := map[string]string{}
	push := make(chan struct{}, 1)
	site := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, params, err := xmlrpcapi.DecodeCall(r.Body, xmlrpcapi.Limits{})
		if err == nil && m == "updateManyStates" && len(params) == 3 {
			mu.Lock()
			for _, tr := range params[2].([]any) {
				if a, ok := tr.([]any); ok && len(a) >= 2 {
					u, _ := a[0].(string)
					st, _ := a[1].(string)
					pushed[u] = st
				}
			}
			mu.Unlock()
			select {
			case push <- struct{}{}:
			default:
			}
		}
		resp, _ := xmlrpcapi.EncodeResponse(nil)
		_, _ = w.Write(resp)
	}))

	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-store", "memory", "-admin-secret", secret,
			"-allow-networks", "127.0.0.1/32", "-mail-dir", filepath.Join(dir, "mail"),
			"-host-interval", "10ms", "-notify-interval", "10ms", "-notify-poll", "10ms", "-ready-file", ready},
			func(string) string { return "" }, io.Discard)
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	c := newRPC(t, "http://"+waitFile(t, ready)+"/")
	c.call(t, "registerClient", secret, "intranet", site.URL+"/db", "Site Admin", "admin@site.example", "site-password-1")
	in, out := inside.URL+"/page", outside.URL+"/page"
	c.call(t, "registerURLs", "intranet", "site-password-1", []any{in, out})

	// Both states pushed to the callback (which -allow-networks lets
	// through), then read back with their reasons.
	deadline := time.After(20 * time.Second)
	for {
		mu.Lock()
		done := pushed[in] == string(lms.StateOK) && pushed[out] == string(lms.StateUnsupported)
		got := fmt.Sprint(pushed)
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-push:
		case <-deadline:
			t.Fatalf("pushed states %s; want %s ok and %s unsupported", got, in, out)
		}
	}
	want := map[string][2]string{in: {string(lms.StateOK), "OK"}, out: {string(lms.StateUnsupported), lms.ReasonPolicy}}
	got := map[string][2]string{}
	for _, s := range c.call(t, "getURLStates", "intranet", "site-password-1", []any{in, out}).([]any) {
		m := s.(map[string]any)
		got[m["url"].(string)] = [2]string{m["state"].(string), m["reason"].(string)}
	}
	require.Equal(t, want, got)
}
