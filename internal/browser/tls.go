package browser

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// TLS like a browser. Go verifies a server's chain with the certificates
// the server sends, and many servers omit their intermediate certificate;
// browsers (Chrome on every platform) then fetch the missing issuer from
// the address the certificate names in its Authority Information Access
// extension. TLSDialer does the same: it verifies the chain itself (in
// tls.Config.VerifyConnection, host name included), and on an unknown
// authority fetches the issuers over plain HTTP through the same dial
// function, at most 64 KiB each on the wire, at most MaxAIAPerCert requests
// per certificate and MaxAIAPerVisit per visit, each paced by the visit's
// PaceFunc as a request to its host (the visit travels in the context:
// WithVisit), caching what it found and what it did not, per address and
// per certificate. Self-signed, expired, wrong-name and unknown-root
// certificates stay failures.

// Errors of DialTLS, each wrapping the handshake's own error.
var (
	ErrTLSHandshake = errors.New("TLS handshake")
	ErrTLSTimeout   = errors.New("TLS handshake not done within the connect timeout")
)

// TLSDialer dials TLS connections verified like a browser. It is safe for
// concurrent use.
type TLSDialer struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	connect time.Duration
	config  *tls.Config
	aia     *aiaCache
}

// NewTLSDialer returns a dialer that connects through dial, bounds the
// connection and the handshake together by connectTimeout, starts from
// config (nil: the system defaults; InsecureSkipVerify turns verification
// off) and fetches missing intermediates by AIA through dial, sending
// userAgent.
func NewTLSDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), connectTimeout time.Duration, config *tls.Config, userAgent string) *TLSDialer {
	return &TLSDialer{dial: dial, connect: connectTimeout, config: config, aia: newAIACache(dial, connectTimeout, userAgent)}
}

// DialTLS dials addr and runs the TLS handshake, offering protos by ALPN. A
// handshake cut short by the connect timeout is ErrTLSTimeout, another
// failed one ErrTLSHandshake.
func (d *TLSDialer) DialTLS(ctx context.Context, network, addr string, protos []string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	// The connect timeout bounds the connection and the handshake together.
	hctx, cancel := context.WithTimeout(ctx, d.connect)
	defer cancel()
	raw, err := d.dial(hctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{}
	if d.config != nil {
		cfg = d.config.Clone()
	}
	if cfg.ServerName != "" {
		host = cfg.ServerName
	}
	cfg.ServerName = host
	cfg.NextProtos = protos
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = CipherSuites()
	}
	if !cfg.InsecureSkipVerify {
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true // verified below, like a browser
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return d.verify(hctx, cs.PeerCertificates, host, roots)
		}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		if errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			// The connect timeout ran out, not the caller's time.
			return nil, fmt.Errorf("%w: %w", ErrTLSTimeout, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
	}
	return tc, nil
}

// verify verifies certs (leaf first) for host against roots (nil: the
// system's), fetching missing intermediates by AIA.
func (d *TLSDialer) verify(ctx context.Context, certs []*x509.Certificate, host string, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	opts := x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}
	_, err := certs[0].Verify(opts)
	var unknown x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &unknown) {
		return err
	}
	cur := certs[0]
	for range maxAIADepth {
		issuer := issuerIn(cur, certs[1:])
		if issuer == nil {
			if issuer = d.aia.issuer(ctx, cur); issuer == nil {
				break
			}
			inter.AddCert(issuer)
			if _, verr := certs[0].Verify(opts); verr == nil {
				return nil
			}
		}
		if bytes.Equal(issuer.RawIssuer, issuer.RawSubject) {
			break // a root the system does not trust
		}
		cur = issuer
	}
	return err
}

// issuerIn returns the certificate of pool that signed c, or nil.
func issuerIn(c *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	for _, p := range pool {
		if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

// CipherSuites returns the TLS 1.2 cipher suites browsers offer: Go's
// secure ones and the RSA key exchanges that Chrome and Firefox still
// accept (old IIS servers and load balancers offer nothing else) but Go
// no longer offers by default. A link checker reads public pages; what a
// browser opens must not be reported broken.
func CipherSuites() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	return append(ids,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA)
}
