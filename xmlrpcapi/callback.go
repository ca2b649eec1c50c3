package xmlrpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	// Chunk is the most triples in one updateManyStates call. Default 1000.
	Chunk int
	// AllowPrivate lets callbacks reach loopback and private networks
	// (clients on the same machine or intranet). Off by default.
	AllowPrivate bool
	// UserAgent of callback requests. Default lms.DefaultUserAgent.
	UserAgent string
}

// CallbackClient calls clients back over XML-RPC: it implements
// lms.Notifier (updateManyStates) and lms.LinkLister (xmlrpc_getAllLinks)
// with github.com/kolo/xmlrpc. Arguments have a fixed shape and are never
// nil (old xmlrpclib rejects <nil/>); any response value is accepted; HTTP
// errors, faults and transport errors are failures. Credentials in the
// callback URL (http://user:pw@host/) are sent as HTTP basic auth.
type CallbackClient struct {
	cfg       CallbackConfig
	transport *http.Transport
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
	if cfg.Chunk <= 0 {
		cfg.Chunk = 1000
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = lms.DefaultUserAgent
	}
	d := netguard.Dialer(cfg.ConnectTimeout, cfg.AllowPrivate)
	return &CallbackClient{cfg: cfg, transport: &http.Transport{
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

// ListLinks implements lms.LinkLister: xmlrpc_getAllLinks(id, pw). Elements
// that are not strings are dropped.
func (c *CallbackClient) ListLinks(ctx context.Context, cb lms.Endpoint) ([]string, error) {
	var reply []any
	if err := c.call(ctx, cb, "xmlrpc_getAllLinks", []any{cb.ClientID, cb.Password}, &reply); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(reply))
	for _, v := range reply {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// call makes one XML-RPC call with a fresh kolo client bound to ctx (kolo
// has no context support and serialises calls per client).
func (c *CallbackClient) call(ctx context.Context, cb lms.Endpoint, method string, args []any, reply any) error {
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
		return fmt.Errorf("xmlrpcapi: %s to %s: %w", method, redact(cb.URL), err)
	}
	defer cl.Close()
	err = cl.Call(method, args, reply)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("xmlrpcapi: %s to %s: %w", method, redact(cb.URL), err)
	}
	return nil
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// errTooLarge fails a response over MaxResponseBytes.
var errTooLarge = errors.New("response too large")

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
