package lms

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linkmonitor/lms/internal/netguard"
)

// httpChecker checks http and https URLs with GET, as the original did
// (servers that mishandle HEAD make HEAD a source of false alarms). It reads
// the headers and at most a small part of the body, follows redirects with
// loop detection, and maps the final status to a State as PROTOCOL.md §3
// says. Create it with NewHTTPChecker.
type httpChecker struct {
	cfg    CheckerConfig
	client *http.Client
}

// maxBodyRead is how much of a body is read before the connection is
// dropped: enough to let small responses finish cleanly.
const maxBodyRead = 4 << 10

type httpCheckState struct {
	permanent bool
	seen      map[string]bool
}

type httpStateKey struct{}

var (
	errTooManyRedirects = errors.New("too many redirects")
	errRedirectLoop     = errors.New("redirect loop")
	errRedirectScheme   = errors.New("redirect to a scheme other than http or https")
)

// newHTTPChecker returns an HTTP(S) checker.
func newHTTPChecker(cfg CheckerConfig) *httpChecker {
	cfg = cfg.withDefaults()
	d := cfg.dialer()
	tr := &http.Transport{
		DialContext:            d.DialContext,
		TLSClientConfig:        cfg.TLSConfig,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        5 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
	}
	c := &httpChecker{cfg: cfg}
	c.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			st, _ := req.Context().Value(httpStateKey{}).(*httpCheckState)
			if len(via) > cfg.MaxRedirects {
				return errTooManyRedirects
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return errRedirectScheme
			}
			if st != nil {
				if r := req.Response; r != nil && (r.StatusCode == http.StatusMovedPermanently || r.StatusCode == http.StatusPermanentRedirect) {
					st.permanent = true
				}
				u := req.URL.String()
				if st.seen[u] {
					return errRedirectLoop
				}
				st.seen[u] = true
			}
			// Each hop is a request of its own: pace it like the first.
			pacer := PacerFromContext(req.Context())
			pacer.Done(HostKey(via[len(via)-1].URL.String()))
			return pacer.Wait(req.Context(), HostKey(req.URL.String()))
		},
	}
	return c
}

// Check implements Checker.
func (c *httpChecker) Check(ctx context.Context, rawURL string) Result {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	st := &httpCheckState{seen: map[string]bool{}}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, httpStateKey{}, st), http.MethodGet, rawURL, nil)
	if err != nil {
		return Result{State: StateUnavailable, Reason: "Invalid URL: " + plainError(err)}
	}
	if req.URL.Host == "" {
		return Result{State: StateUnavailable, Reason: "Invalid URL: no host"}
	}
	st.seen[req.URL.String()] = true
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := c.client.Do(req)
	elapsed := time.Since(start)
	if err != nil {
		r := classifyNetError(err, c.cfg)
		r.ResponseTime, r.Permanent = elapsed, st.permanent
		return r
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxBodyRead)
	_ = resp.Body.Close()
	r := statusResult(resp.StatusCode, resp.Status)
	r.ResponseTime, r.Permanent = elapsed, st.permanent
	if final := resp.Request.URL.String(); final != rawURL {
		r.FinalURL = final
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return r
}

// statusResult maps an HTTP status to a Result as the original did: 1xx,
// 2xx, 3xx and 401 are ok; 500, 503, 504 and 429 temporary; everything else
// unavailable. The reason is the status phrase.
func statusResult(code int, status string) Result {
	reason := strings.TrimSpace(strings.TrimPrefix(status, strconv.Itoa(code)))
	if reason == "" {
		reason = http.StatusText(code)
	}
	if reason == "" {
		reason = "HTTP status " + strconv.Itoa(code)
	}
	r := Result{Code: code, Reason: reason}
	switch {
	case code >= 100 && code < 400, code == http.StatusUnauthorized:
		r.State = StateOK
	case code == http.StatusInternalServerError, code == http.StatusServiceUnavailable,
		code == http.StatusGatewayTimeout, code == http.StatusTooManyRequests:
		r.State = StateTemporary
	default:
		r.State = StateUnavailable
	}
	return r
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date)
// relative to now; 0 if absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 365*86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// classifyNetError turns a transport failure into a Result a content
// editor can understand.
func classifyNetError(err error, cfg CheckerConfig) Result {
	var (
		dnsErr   *net.DNSError
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		certErr  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		opErr    *net.OpError
	)
	switch {
	case errors.Is(err, netguard.ErrPolicy):
		return Result{State: StateUnsupported, Reason: ReasonPolicy}
	case errors.Is(err, errTooManyRedirects):
		return Result{State: StateUnavailable, Reason: fmt.Sprintf("Too many redirects (more than %d)", cfg.MaxRedirects)}
	case errors.Is(err, errRedirectLoop):
		return Result{State: StateUnavailable, Reason: "Redirect loop"}
	case errors.Is(err, errRedirectScheme):
		return Result{State: StateUnavailable, Reason: "Redirect to an unsupported scheme"}
	case errors.As(err, &dnsErr):
		return Result{State: StateUnavailable, Reason: "Host not found: " + dnsErr.Name, NetworkError: true}
	case errors.As(err, &unknownA):
		return Result{State: StateUnavailable, Reason: "The site's security certificate is not trusted (unknown issuer)"}
	case errors.As(err, &hostErr):
		return Result{State: StateUnavailable, Reason: "The site's security certificate belongs to a different site"}
	case errors.As(err, &certErr):
		if certErr.Reason == x509.Expired {
			return Result{State: StateUnavailable, Reason: "The site's security certificate has expired or is not yet valid"}
		}
		return Result{State: StateUnavailable, Reason: "The site's security certificate is invalid: " + certErr.Error()}
	case errors.As(err, &recErr):
		return Result{State: StateUnavailable, Reason: "Secure connection failed: the server does not speak TLS"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return Result{State: StateUnavailable, Reason: "Connection refused", NetworkError: true}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Result{State: StateUnavailable, Reason: "Host unreachable", NetworkError: true}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return Result{State: StateTemporary, Reason: "Timeout while connecting", NetworkError: true}
		}
		return Result{State: StateTemporary, Reason: fmt.Sprintf("Timeout (no complete answer within %v)", cfg.Timeout)}
	case errors.Is(err, context.Canceled):
		return Result{State: StateUnknown, Reason: "Check cancelled"}
	}
	var tlsVerify *tls.CertificateVerificationError
	if errors.As(err, &tlsVerify) {
		return Result{State: StateUnavailable, Reason: "The site's security certificate is invalid"}
	}
	return Result{State: StateUnavailable, Reason: plainError(err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// plainError strips the "Get \"url\":" prefix of url.Error.
func plainError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if s == "" {
		return "Error"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
