package main

import (
	"context"
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
	var mu sync.Mutex
	calls := 0
	site := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
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

	want := map[string][2]string{in: {string(lms.StateOK), "OK"}, out: {string(lms.StateUnsupported), lms.ReasonPolicy}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		states := c.call(t, "getURLStates", "intranet", "site-password-1", []any{in, out}).([]any)
		got := map[string][2]string{}
		for _, s := range states {
			m := s.(map[string]any)
			got[m["url"].(string)] = [2]string{m["state"].(string), m["reason"].(string)}
		}
		mu.Lock()
		called := calls
		mu.Unlock()
		if got[in] == want[in] && got[out] == want[out] && called > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "states %v, callbacks %d; want %v and a callback", got, called, want)
		time.Sleep(20 * time.Millisecond) // polling lmsd's answers: no signal crosses the process boundary
	}
}
