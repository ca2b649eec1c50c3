// Package netguard is the address policy of every outbound connection lms
// makes for a client-supplied address (checks and callbacks): unless the
// operator allows it, no connection reaches loopback, private, link-local or
// other special-purpose addresses. The check runs on the resolved IP of
// every connection (code.dny.dev/ssrf in the dialer's Control), so neither
// redirects nor DNS tricks get around it.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// ErrPolicy marks a connection refused by the address policy.
var ErrPolicy = errors.New("address not allowed by LMS policy")

// Dialer returns a net.Dialer with the given connect timeout that, unless
// allowPrivate, refuses special-purpose addresses with an error wrapping
// ErrPolicy. allowed prefixes are let through even so (an operator's
// intranet).
func Dialer(timeout time.Duration, allowPrivate bool, allowed ...netip.Prefix) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	if allowPrivate {
		return d
	}
	var v4, v6 []netip.Prefix
	for _, p := range allowed {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	g := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	d.Control = func(network, address string, rc syscall.RawConn) error {
		if err := g.Safe(network, address, rc); err != nil {
			return fmt.Errorf("%w: %w", ErrPolicy, err)
		}
		return nil
	}
	return d
}
