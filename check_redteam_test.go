package lms_test

// Red-team findings shown as tests (they fail until the bug is fixed).

import (
	"net"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// TestHTTP101IsBounded: a server that answers a plain GET with "101
// Switching Protocols" and then keeps the connection open holds the check
// (and its pool slot) for as long as it likes: Go's transport hands a 101's
// body over as the raw connection, which the request's context no longer
// closes, and the checker reads that "body". Twenty such links stop every
// check of an lmsd with -concurrency 20.
func TestHTTP101IsBounded(t *testing.T) {
	done := make(chan struct{})
	addr := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
		<-done // hold the connection open until the test ends
	})
	t.Cleanup(func() { close(done) })
	cfg := private()
	cfg.Timeout = time.Second
	checker := lms.NewDefaultChecker(cfg)
	res := make(chan lms.Result, 1)
	go func() { res <- checker.Check(t.Context(), "http://"+addr+"/") }()
	select {
	case r := <-res:
		if r.State == lms.StateOK {
			t.Errorf("a 101 to a plain GET is no page a browser shows, got %s (%q)", r.State, r.Reason)
		}
	case <-time.After(cfg.Timeout + 3*time.Second):
		t.Fatalf("the check of a 101 answer did not end within its timeout (%v) + 3 s", cfg.Timeout)
	}
}
