package lms

import (
	"context"
	"crypto/tls"
	"net/netip"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/check"
)

// Checker answers one question: what is the state of this URL now? A dead
// link is a Result with a failing State, never an error. Implementations
// must return within the context's deadline and be safe for concurrent use.
type Checker interface {
	Check(ctx context.Context, rawURL string) Result
}

// CheckerFunc adapts a function to the Checker interface (and makes a handy
// test fake).
type CheckerFunc func(ctx context.Context, rawURL string) Result

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, rawURL string) Result { return f(ctx, rawURL) }

// Reasons used by the built-in checkers, as the original server worded them.
const (
	// ReasonNoHandler is the reason of a URL whose scheme has no Checker.
	ReasonNoHandler = "No handler registered for URL"
	// ReasonPolicy ("Ignored due to LMS policy") is the reason of a URL
	// whose address the checks may not reach (CheckerConfig.AllowPrivate).
	ReasonPolicy = check.ReasonPolicy
)

// Mux dispatches checks by URL scheme (case-insensitive). Unknown schemes
// get StateUnsupported with ReasonNoHandler.
type Mux struct {
	handlers map[string]Checker
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{handlers: make(map[string]Checker)} }

// Handle registers c for scheme, replacing any earlier registration. Call it
// before the Mux is used.
func (m *Mux) Handle(scheme string, c Checker) { m.handlers[strings.ToLower(scheme)] = c }

// Check implements Checker.
func (m *Mux) Check(ctx context.Context, rawURL string) Result {
	i := strings.IndexByte(rawURL, ':')
	if i > 0 {
		if c := m.handlers[strings.ToLower(rawURL[:i])]; c != nil {
			return c.Check(ctx, rawURL)
		}
	}
	return Result{State: StateUnsupported, Reason: ReasonNoHandler}
}

// CheckerConfig configures the built-in checkers. The zero value is ready
// to use.
type CheckerConfig struct {
	// UserAgent identifies the server in HTTP requests. Default DefaultUserAgent.
	UserAgent string
	// BrowserUserAgent is the User-Agent of the one browser-like retry of an
	// answer that may come from a bot wall (403, 429 without Retry-After,
	// 999, a challenge page). Default DefaultBrowserUserAgent.
	BrowserUserAgent string
	// HonestRetry makes the browser-like retry send UserAgent instead of
	// BrowserUserAgent (the other browser headers stay).
	HonestRetry bool
	// ConnectTimeout bounds DNS, connect and TLS handshake. Default 10 s.
	ConnectTimeout time.Duration
	// Timeout bounds one whole check, redirects and retries included.
	// Default 30 s.
	Timeout time.Duration
	// MaxRedirects is the most redirects followed. Default 20, what
	// browsers follow.
	MaxRedirects int
	// MaxBytes bounds what one check reads: the body of the final answer
	// (redirect and error bodies are read only a little), and, for FTP,
	// the banner and every reply together. One response head (status line
	// and headers) is at most 256 KiB, browsers' limit. Default 1 MiB.
	MaxBytes int64
	// AllowPrivate lets checks reach loopback, private, link-local and
	// other special-purpose addresses. Off by default: client-supplied URLs
	// must not probe the server's own network.
	AllowPrivate bool
	// AllowedPrefixes are networks reachable even when AllowPrivate is off
	// (an intranet's range).
	AllowedPrefixes []netip.Prefix
	// TLSConfig is used for https; nil means the system defaults. Unless it
	// sets InsecureSkipVerify, certificates are verified like a browser
	// does: against RootCAs (nil: the system roots), fetching a missing
	// intermediate certificate from the address the certificate names
	// (Authority Information Access).
	TLSConfig *tls.Config
	// ProbeInterval is how long the HTTP checker keeps a host's answer to
	// a made-up path, asked for when a page gives a reason to doubt it
	// (a soft 404, a redirect to the home page): at most one such probe
	// per host per ProbeInterval. Default 24 h; the Engine sets it to
	// Policy.Interval, the check interval.
	ProbeInterval time.Duration
}

// DefaultUserAgent is the User-Agent of the built-in HTTP checker:
// "Bot/LMS (Link Monitoring Server; +https://github.com/linkmonitor/lms)".
const DefaultUserAgent = check.DefaultUserAgent

// DefaultBrowserUserAgent is the User-Agent of the browser-like retry: a
// current desktop Chrome's on Windows; the retry's Client Hints name the
// same Chrome version.
const DefaultBrowserUserAgent = check.DefaultBrowserUserAgent

// withDefaults fills the zero fields of c with the defaults its fields
// document.
func (c CheckerConfig) withDefaults() CheckerConfig {
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.BrowserUserAgent == "" {
		c.BrowserUserAgent = DefaultBrowserUserAgent
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 20
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 24 * time.Hour
	}
	return c
}

// NewDefaultChecker returns a Mux with the built-in checkers: http and
// https, ftp, and mailto (syntax only). Their mechanics are package
// internal/check's; the checks of http and https are paced through the
// Pacer of their context, by HostKey.
func NewDefaultChecker(cfg CheckerConfig) *Mux {
	// check.Config is CheckerConfig field for field: a field added to one
	// and not the other stops this conversion from compiling.
	cc := check.Config(cfg.withDefaults())
	web, ftp := check.NewHTTP(cc, HostKey), check.NewFTP(cc)
	m := NewMux()
	http := CheckerFunc(func(ctx context.Context, rawURL string) Result {
		return fromCheck(web.Check(ctx, PacerFromContext(ctx), rawURL))
	})
	m.Handle("http", http)
	m.Handle("https", http)
	m.Handle("ftp", CheckerFunc(func(ctx context.Context, rawURL string) Result {
		return fromCheck(ftp.Check(ctx, rawURL))
	}))
	m.Handle("mailto", CheckerFunc(func(_ context.Context, rawURL string) Result {
		return fromCheck(check.Mailto(rawURL))
	}))
	return m
}

// fromCheck converts a Result of package check, whose states are spelt
// and whose failure kinds are numbered as the root's.
func fromCheck(r check.Result) Result {
	return Result{State: State(r.State), Reason: r.Reason, Code: r.Code, FinalURL: r.FinalURL, Permanent: r.Permanent,
		Kind: r.Kind, ResponseTime: r.ResponseTime, RetryAfter: r.RetryAfter, NetworkError: r.NetworkError,
		Failure: FailureKind(r.Failure), Detail: r.Detail}
}
