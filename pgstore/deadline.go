package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// The client-side bounds of the store's database calls. The server's
// statement_timeout cannot act while the server is frozen (SIGSTOP, a stuck
// disk) or cut off, and the kernel of a frozen server still answers TCP
// keepalives; so every call carries a context deadline of its own
// (Options.CallTimeout), connections are dialled with a connect timeout,
// TCP keepalives and, on Linux, TCP_USER_TIMEOUT (a server whose host
// vanished is given up), and the LISTEN connection pings the server when it
// has been quiet for a while (listenQuiet).

// ErrTimeout is wrapped by the error of a call that got no answer from
// PostgreSQL within Options.CallTimeout.
var ErrTimeout = errors.New("no answer within the call timeout")

// DefaultCallTimeout is Options.CallTimeout's default: a registration of
// 10,000 URLs (the XML-RPC limit) on new hosts takes about 1 s on a busy
// machine (BENCHMARKS.md), a claim or a result batch milliseconds.
const DefaultCallTimeout = 15 * time.Second

const (
	// keepAliveIdle, keepAliveInterval and keepAliveCount are the TCP
	// keepalive settings of the store's connections: a peer silent for
	// keepAliveIdle is probed every keepAliveInterval, and given up after
	// keepAliveCount unanswered probes.
	keepAliveIdle     = 15 * time.Second
	keepAliveInterval = 5 * time.Second
	keepAliveCount    = 3
	// userTimeout is how long data sent may stay unacknowledged before
	// Linux drops the connection (TCP_USER_TIMEOUT; it also ends the
	// keepalive probes).
	userTimeout = keepAliveIdle + keepAliveCount*keepAliveInterval
	// listenQuiet is how long the LISTEN connection waits for a
	// notification before it pings the server (Store.listenQuiet).
	listenQuiet = 10 * time.Second
)

// callItems is how many items (URLs, records) CallTimeout bounds: the most
// URLs of one XML-RPC call. A call on more (the syncer replacing a client's
// links with a site's whole list) gets a proportionally longer deadline.
const callItems = 10_000

// call bounds one call of the store: its context ends after the call
// timeout, with a timeoutError as its cause (which wrap returns).
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.callN(ctx, 0)
}

// callN is call for a call on n items: past callItems, the deadline grows
// with n.
func (s *Store) callN(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	if s.callTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	d := s.callTimeout
	if n > callItems {
		d = time.Duration(float64(d) * float64(n) / callItems)
	}
	return context.WithTimeoutCause(ctx, d, s.timeoutError(d))
}

// timeoutError is the error of a call that got no answer within d.
func (s *Store) timeoutError(d time.Duration) error {
	return fmt.Errorf("PostgreSQL at %s: %w (%v)", s.addr, ErrTimeout, d)
}

// dialer returns the DialFunc of the store's connections.
func dialer(connectTimeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout: connectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount,
		},
		Control: func(network, _ string, c syscall.RawConn) error {
			if !strings.HasPrefix(network, "tcp") {
				return nil // a Unix socket
			}
			var serr error
			if err := c.Control(func(fd uintptr) { serr = setUserTimeout(fd, userTimeout) }); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("TCP_USER_TIMEOUT: %w", serr)
			}
			return nil
		},
	}
	return d.DialContext
}
