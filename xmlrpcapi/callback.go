package xmlrpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/validate"
)

// CallbackConfig configures a CallbackClient. The zero value is ready to use.
type CallbackConfig struct {
	// Timeout bounds one call. Default 30 s.
	Timeout time.Duration
	// ConnectTimeout bounds connecting. Default 10 s.
	ConnectTimeout time.Duration
	// MaxResponseBytes bounds a response; larger ones fail the call.
	// Default 64 MiB (a client's full link list can be long).
	MaxResponseBytes int64
	// MaxLinks bounds the links of one xmlrpc_getAllLinks answer; more
	// fail the sync with an error saying so (an lms.ErrTooLarge: the
	// Engine mails the client's contact). Default 2,000,000 (64 MiB holds
	// at most about that many).
	MaxLinks int
	// MaxConcurrentLists is how many xmlrpc_getAllLinks calls run at once;
	// others wait for a slot. The answers are decoded as they arrive into
	// the strings returned (about 1× the answer; other values are
	// dropped as they are read), so their memory stays below about
	// MaxConcurrentLists × MaxResponseBytes. Default 2.
	MaxConcurrentLists int
	// Chunk is the most triples in one updateManyStates call. Default 1000.
	Chunk int
	// AllowPrivate lets callbacks reach loopback and private networks
	// (clients on the same machine or intranet). Off by default.
	AllowPrivate bool
	// AllowedPrefixes are networks callbacks may reach even when
	// AllowPrivate is off (an operator's intranet). Default none.
	AllowedPrefixes []netip.Prefix
	// UserAgent of callback requests. Default lms.DefaultUserAgent.
	UserAgent string
}

// CallbackClient calls clients back over XML-RPC: it implements
// lms.Notifier (updateManyStates, with github.com/kolo/xmlrpc) and
// lms.LinkLister (xmlrpc_getAllLinks, with this package's streaming
// decoder). Arguments have a fixed shape and are never nil (old xmlrpclib
// rejects <nil/>); HTTP errors, faults and transport errors are failures.
// Credentials in the callback URL (http://user:pw@host/) are sent as HTTP
// basic auth, and replaced by "…" in errors.
//
// kolo/xmlrpc cannot read a link list safely: it reads the whole answer
// into memory, runs a regular expression over all of it to find a fault,
// then decodes with encoding/xml into reflected values (together about 10×
// the answer); an untyped <value>text</value>, which the XML-RPC
// specification defines as a string, fails to decode into an interface
// value ("type mismatch"), and kolo trims the spaces of untyped strings,
// which would change URLs. Notifications keep kolo: their answer is
// ignored and bounded by MaxResponseBytes.
type CallbackClient struct {
	cfg       CallbackConfig
	transport *http.Transport
	lists     chan struct{} // slots of xmlrpc_getAllLinks calls
}

var (
	_ lms.Notifier   = (*CallbackClient)(nil)
	_ lms.LinkLister = (*CallbackClient)(nil)
)

// NewCallbackClient returns a callback client.
func NewCallbackClient(cfg CallbackConfig) *CallbackClient {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 20
	}
	if cfg.MaxLinks <= 0 {
		cfg.MaxLinks = 2_000_000
	}
	if cfg.MaxConcurrentLists <= 0 {
		cfg.MaxConcurrentLists = 2
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = 1000
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = lms.DefaultUserAgent
	}
	d := netguard.Dialer(cfg.ConnectTimeout, cfg.AllowPrivate, cfg.AllowedPrefixes...)
	return &CallbackClient{cfg: cfg, lists: make(chan struct{}, cfg.MaxConcurrentLists), transport: &http.Transport{
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
	}}
}

// Close releases idle connections.
func (c *CallbackClient) Close() { c.transport.CloseIdleConnections() }

// Notify implements lms.Notifier: updateManyStates(id, pw, [[url, state,
// reason], ...]) in chunks of at most Chunk triples. It stops at the first
// failed chunk.
func (c *CallbackClient) Notify(ctx context.Context, cb lms.Endpoint, updates []lms.Update) error {
	for start := 0; start < len(updates); start += c.cfg.Chunk {
		part := updates[start:min(start+c.cfg.Chunk, len(updates))]
		triples := make([]any, len(part))
		for i, u := range part {
			reason := u.Reason
			if reason == "" {
				reason = string(u.State)
			}
			triples[i] = []any{u.URL, string(u.State), reason}
		}
		if err := c.call(ctx, cb, "updateManyStates", []any{cb.ClientID, cb.Password, triples}, nil); err != nil {
			return err
		}
	}
	return nil
}

// ListLinks implements lms.LinkLister: xmlrpc_getAllLinks(id, pw). The
// answer must be an array; its strings (typed or untyped, byte for byte)
// are returned, other elements dropped. An answer over MaxResponseBytes or
// with more than MaxLinks links fails with an error that says so.
func (c *CallbackClient) ListLinks(ctx context.Context, cb lms.Endpoint) ([]string, error) {
	const method = "xmlrpc_getAllLinks"
	fail := func(err error) ([]string, error) {
		return nil, fmt.Errorf("xmlrpcapi: %s to %s: %w", method, redact(cb.URL), err)
	}
	if err := validate.CallbackURL(cb.URL); err != nil {
		return nil, fmt.Errorf("xmlrpcapi: %s: %w: %w", method, lms.ErrInvalid, err)
	}
	select {
	case c.lists <- struct{}{}:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	defer func() { <-c.lists }()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	body, err := EncodeCall(method, cb.ClientID, cb.Password)
	if err != nil {
		return fail(err)
	}
	u, err := url.Parse(cb.URL)
	if err != nil {
		return fail(err)
	}
	user := u.User
	u.User = nil
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if user != nil {
		pw, _ := user.Password()
		req.SetBasicAuth(user.Username(), pw)
	}
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(fmt.Errorf("HTTP %s", resp.Status))
	}
	links, err := decodeLinks(&limitedBody{r: resp.Body, left: c.cfg.MaxResponseBytes}, c.cfg.MaxLinks)
	if errors.Is(err, errTooLarge) {
		err = fmt.Errorf("the answer is over %d bytes (CallbackConfig.MaxResponseBytes): %w", c.cfg.MaxResponseBytes, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fail(err)
	}
	return links, nil
}

// errTooManyLinks fails a link list over MaxLinks.
var errTooManyLinks error = limitError("too many links")

// decodeLinks reads a methodResponse whose value is an array and returns
// its strings, decoding as it reads: no other value of the array is kept.
func decodeLinks(r io.Reader, maxLinks int) ([]string, error) {
	p := newParser(r, Limits{MaxValues: 2 * maxLinks})
	var links blocks[string]
	_, err := p.response(func() (any, error) {
		if err := p.expectStart("param"); err != nil {
			return nil, err
		}
		if err := p.expectStart("value"); err != nil {
			return nil, err
		}
		k, err := p.element()
		if err != nil {
			return nil, err
		}
		if k != kindStart || !p.is("array") {
			return nil, syntaxErr("the answer is %s, not an array", p.describe(k))
		}
		p.values++
		err = p.arrayElems(1, func(s string, isString bool, _ any) error {
			if !isString {
				return nil
			}
			if links.n == maxLinks {
				return fmt.Errorf("%w: more than %d (CallbackConfig.MaxLinks)", errTooManyLinks, maxLinks)
			}
			links.add(s)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd("value"); err != nil {
			return nil, err
		}
		if err := p.expectEnd("param"); err != nil {
			return nil, err
		}
		return nil, p.expectEnd("params")
	})
	if err != nil {
		return nil, err
	}
	return links.all(), nil
}

// call makes one XML-RPC call with a fresh kolo client bound to ctx (kolo
// has no context support and serialises calls per client).
func (c *CallbackClient) call(ctx context.Context, cb lms.Endpoint, method string, args []any, reply any) (err error) {
	if err := validate.CallbackURL(cb.URL); err != nil {
		return fmt.Errorf("xmlrpcapi: %s: %w: %w", method, lms.ErrInvalid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	rt := roundTripper(func(req *http.Request) (*http.Response, error) {
		req = req.WithContext(ctx)
		req.Header.Set("User-Agent", c.cfg.UserAgent)
		resp, err := c.transport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body = &limitedBody{r: resp.Body, left: c.cfg.MaxResponseBytes}
		return resp, nil
	})
	cl, err := xmlrpc.NewClient(cb.URL, rt)
	if err != nil {
		return fmt.Errorf("xmlrpcapi: %s to %s: %w", method, redact(cb.URL), redacted{err})
	}
	defer func() {
		if cerr := cl.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("xmlrpcapi: %s to %s: closing: %w", method, redact(cb.URL), cerr)
		}
	}()
	if err := cl.Call(method, args, reply); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		// net/http's errors quote the URL with its user name.
		return fmt.Errorf("xmlrpcapi: %s to %s: %w", method, redact(cb.URL), redacted{err})
	}
	return nil
}

// redacted is an error whose text has the credentials of URLs replaced.
type redacted struct{ err error }

func (r redacted) Error() string { return urlCredentials.ReplaceAllString(r.err.Error(), "${1}…@") }
func (r redacted) Unwrap() error { return r.err }

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// errTooLarge fails a response over MaxResponseBytes.
var errTooLarge error = limitError("response too large")

// limitError is an answer over a limit of the callback client: it is an
// lms.ErrTooLarge (the syncer tells the client's contact).
type limitError string

func (e limitError) Error() string { return string(e) }

// Is makes the error an lms.ErrTooLarge.
func (e limitError) Is(target error) bool { return target == lms.ErrTooLarge }

type limitedBody struct {
	r    io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.r.Close() }

// redact removes credentials from a URL for logs and errors.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("xxx")
	return strings.Replace(u.String(), "xxx@", "…@", 1)
}
