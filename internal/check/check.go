// Package check holds the mechanics of the built-in checkers of the lms
// root package: what a person who follows an http, https, ftp or mailto
// link experiences, as a state and a reason in plain words. It walks
// redirects and page refreshes, makes the one browser-like retry of an
// answer that may come from a bot wall, judges a working page for signs
// that it is alive but wrong (package softfail), logs in to FTP servers,
// and maps every failure to one row of the reason table (reasons.go).
//
// It imports nothing of the root: its Result, State and FailureKind are
// its own and the root converts them (checker.go there), its Pacer is the
// root's by shape, and the politeness key of a URL is the root's HostKey,
// handed to NewHTTP. How browsers read the web (escaping, hosts, heads,
// TLS, decoding) is package browser's.
package check

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"github.com/linkmonitor/lms/internal/browser"
	"github.com/linkmonitor/lms/internal/netguard"
)

// State is the state a check reports, spelt as the protocol's states (and
// the root's lms.State) are.
type State string

// The states a check reports.
const (
	StateOK          State = "ok"
	StateTemporary   State = "temporary unavailable"
	StateUnavailable State = "unavailable"
	StateUnsupported State = "unsupported protocol"
	StateUnknown     State = "unknown"
)

// Valid reports whether s is one of the five states.
func (s State) Valid() bool {
	switch s {
	case StateOK, StateTemporary, StateUnavailable, StateUnsupported, StateUnknown:
		return true
	}
	return false
}

// Failing reports whether s is temporary unavailable or unavailable.
func (s State) Failing() bool { return s == StateTemporary || s == StateUnavailable }

// FailureKind says how a failing Result is confirmed; the kinds are those
// of lms.FailureKind, numbered alike.
type FailureKind uint8

// The kinds of failure (see lms.FailureKind for what each means).
const (
	FailureInferred FailureKind = iota
	FailureDefinitive
	FailureTransient
	FailureBlocked
	FailureDoubt
)

// Result is the outcome of one check, field for field lms.Result (see
// there for what each field means).
type Result struct {
	State        State
	Reason       string
	Code         int
	FinalURL     string
	Permanent    bool
	Kind         string
	ResponseTime time.Duration
	RetryAfter   time.Duration
	NetworkError bool
	Failure      FailureKind
	Detail       string
}

// Pacer spaces the requests of a check to one host (lms.Pacer has the same
// shape): Wait before each further request of the check (a redirect hop, a
// retry, a probe), Done once it is answered.
type Pacer interface {
	// Wait blocks until a request to host is allowed and reserves it.
	Wait(ctx context.Context, host string) error
	// Done reports that the request to host has been answered.
	Done(host string)
}

// noPacer is the Pacer of a check that is not paced.
type noPacer struct{}

func (noPacer) Wait(context.Context, string) error { return nil }
func (noPacer) Done(string)                        {}

// pacedBy returns the hook by which the browser package paces a request
// that a check sends on its own account (an AIA fetch) through p, as a
// request to that request's host (key: the politeness key).
func pacedBy(p Pacer, key func(rawURL string) string) browser.PaceFunc {
	return func(ctx context.Context, rawURL string) (func(), error) {
		host := key(rawURL)
		if err := p.Wait(ctx, host); err != nil {
			return nil, err
		}
		return func() { p.Done(host) }, nil
	}
}

// Config is lms.CheckerConfig field for field, its defaults applied (the
// root converts one into the other; see there for what each field means).
// A zero field is taken as it is.
type Config struct {
	UserAgent        string
	BrowserUserAgent string
	HonestRetry      bool
	ConnectTimeout   time.Duration
	Timeout          time.Duration
	MaxRedirects     int
	MaxBytes         int64
	AllowPrivate     bool
	AllowedPrefixes  []netip.Prefix
	TLSConfig        *tls.Config
	ProbeInterval    time.Duration
}

// DefaultUserAgent is the User-Agent of the checks' own requests (and of
// their AIA fetches).
const DefaultUserAgent = "Bot/LMS (Link Monitoring Server; +https://github.com/linkmonitor/lms)"

// DefaultBrowserUserAgent is the User-Agent of the browser-like retry: a
// current desktop Chrome.
const DefaultBrowserUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeMajor + ".0.0.0 Safari/537.36"

// chromeMajor is the Chrome version DefaultBrowserUserAgent claims; the
// Client Hints of the retry name it too.
const chromeMajor = "142"

// ReasonPolicy is the reason of a link whose address the checks may not
// reach (Config.AllowPrivate, Config.AllowedPrefixes).
const ReasonPolicy = "Ignored due to LMS policy"

// maxHeadBytes is the most bytes of one HTTP response head (Chrome's limit
// is 256 KiB).
const maxHeadBytes = 256 << 10

// headBytes is the most bytes of one HTTP response head.
func (c Config) headBytes() int64 { return min(maxHeadBytes, c.MaxBytes) }

// dialer returns the dialer of every check: the connect timeout and the
// address policy on every resolved IP.
func (c Config) dialer() *net.Dialer {
	return netguard.Dialer(c.ConnectTimeout, c.AllowPrivate, c.AllowedPrefixes...)
}
