package browser

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// DialFunc dials a plain connection (net.Dialer.DialContext's shape).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// NewTransport returns the transport of a browser's first try: kept-alive
// connections, HTTP/2 offered by ALPN over TLS from tlsDialer, response
// heads of at most headBytes that must start within headTimeout. Bodies
// are not decoded (Decode does it as browsers do); redirects are the
// caller's to follow.
func NewTransport(dial DialFunc, tlsDialer *TLSDialer, headBytes int64, headTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext: dial,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return tlsDialer.DialTLS(ctx, network, addr, []string{"h2", "http/1.1"})
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    2,
		DisableCompression:     true, // decoded like a browser: see Decode
		IdleConnTimeout:        5 * time.Second,
		MaxResponseHeaderBytes: headBytes,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  headTimeout,
	}
}

// NewLenientTransport returns the transport of the tolerant second try:
// one answer per new HTTP/1.1 connection, its head read by NewLenientConn
// (at most headBytes), bodies not decoded.
func NewLenientTransport(dial DialFunc, tlsDialer *TLSDialer, headBytes int64, headTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return NewLenientConn(cn, headBytes), nil
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cn, err := tlsDialer.DialTLS(ctx, network, addr, []string{"http/1.1"})
			if err != nil {
				return nil, err
			}
			return NewLenientConn(cn, headBytes), nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxResponseHeaderBytes: headBytes + 4<<10, // the lenient conn enforces the limit
		ResponseHeaderTimeout:  headTimeout,
	}
}
