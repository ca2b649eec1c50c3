// Package wayback asks a Wayback-Machine compatible availability service
// (https://archive.org/help/wayback_api.php) for the closest archived copy
// of a URL: GET {endpoint}?url=<url>[&timestamp=YYYYMMDD], answered with
// {"url":…, "archived_snapshots": {"closest": {"status":"200",
// "available":true, "url":…, "timestamp":"YYYYMMDDhhmmss"}}}, or an empty
// archived_snapshots when there is none.
//
// A Client makes one such request through the dialer it is given (lms
// passes its SSRF-guarded one), within a timeout, reading a bounded body
// and accepting only a well-formed answer; a Worker runs the look-ups of a
// bounded queue one at a time.
package wayback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/validate"
)

// DefaultEndpoint is the Internet Archive's availability service.
const DefaultEndpoint = "https://archive.org/wayback/available"

// MaxBody is the most bytes of an answer read; a longer one is an error.
const MaxBody = 64 << 10

// ErrAnswer marks an answer of the service that is not a valid one (wrong
// status, too large, not the documented JSON).
var ErrAnswer = errors.New("wayback: invalid answer")

// Snapshot is the archived copy of a URL; the zero value means none.
type Snapshot struct {
	URL  string    // where the copy is served (http or https)
	Time time.Time // when it was archived, UTC
}

// Client looks up archived copies at one endpoint.
type Client struct {
	endpoint *url.URL
	http     *http.Client
}

// NewClient returns a Client of endpoint (an absolute http or https URL)
// that connects through dial and gives up on a look-up after timeout.
func NewClient(endpoint string, dial *net.Dialer, timeout time.Duration) (*Client, error) {
	if err := CheckEndpoint(endpoint); err != nil {
		return nil, err
	}
	u, _ := url.Parse(endpoint)
	t := &http.Transport{
		DialContext:            dial.DialContext,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxIdleConns:           1,
		IdleConnTimeout:        time.Minute,
		MaxResponseHeaderBytes: 64 << 10,
	}
	hc := &http.Client{Transport: t, Timeout: timeout, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return fmt.Errorf("%w: more than 3 redirects", ErrAnswer)
		}
		return nil
	}}
	return &Client{endpoint: u, http: hc}, nil
}

// CheckEndpoint reports whether endpoint is an absolute http or https URL
// without a fragment.
func CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("wayback: endpoint %q: want an absolute http or https URL", endpoint)
	}
	return nil
}

// Lookup asks for the copy of link closest to at (any time if at is zero).
// A zero Snapshot and no error means the service has none; an error means
// no usable answer (the network, the address policy, or ErrAnswer).
func (c *Client) Lookup(ctx context.Context, link string, at time.Time) (Snapshot, error) {
	u := *c.endpoint
	q := u.Query()
	q.Set("url", link)
	if !at.IsZero() {
		q.Set("timestamp", at.UTC().Format("20060102"))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("wayback: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lms link monitor (archive look-up)")
	resp, err := c.http.Do(req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("wayback: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Snapshot{}, fmt.Errorf("wayback: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Snapshot{}, fmt.Errorf("%w: HTTP status %d", ErrAnswer, resp.StatusCode)
	}
	if len(body) > MaxBody {
		return Snapshot{}, fmt.Errorf("%w: more than %d bytes", ErrAnswer, MaxBody)
	}
	return Decode(body)
}

// answer is the documented JSON of the service.
type answer struct {
	URL       *string `json:"url"`
	Timestamp string  `json:"timestamp"` // echoed when asked with one
	Snapshots *struct {
		Closest *struct {
			Status    string `json:"status"`
			Available bool   `json:"available"`
			URL       string `json:"url"`
			Timestamp string `json:"timestamp"`
		} `json:"closest"`
	} `json:"archived_snapshots"`
}

// Decode reads an answer of the service strictly: one JSON object of the
// documented shape (no other fields, no trailing data), whose closest
// copy, if any, has status "200", is available, has an http or https URL
// and a 14-digit timestamp. A copy with another status or not available
// is none.
func Decode(body []byte) (Snapshot, error) {
	var a answer
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", ErrAnswer, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Snapshot{}, fmt.Errorf("%w: data after the JSON object", ErrAnswer)
	}
	if a.URL == nil || a.Snapshots == nil {
		return Snapshot{}, fmt.Errorf("%w: no url or archived_snapshots", ErrAnswer)
	}
	cl := a.Snapshots.Closest
	if cl == nil || cl.Status != "200" || !cl.Available {
		return Snapshot{}, nil
	}
	t, err := time.Parse("20060102150405", cl.Timestamp)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: timestamp %q", ErrAnswer, cl.Timestamp)
	}
	u, err := url.Parse(cl.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || validate.URL(cl.URL) != nil || PrivateURL(cl.URL) {
		return Snapshot{}, fmt.Errorf("%w: snapshot url %.100q", ErrAnswer, cl.URL)
	}
	return Snapshot{URL: cl.URL, Time: t.UTC()}, nil
}

// PrivateURL reports whether s (a URL) carries credentials or names this
// machine or a private network (localhost, or an address literal that is
// not a public one): no replacement to offer an editor, whose browser
// would reach into their own network by it (or be fooled by a user name
// that looks like a host). A string that does not parse is private too.
func PrivateURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return true
	}
	if u.User != nil {
		return true
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return false // a name; where it resolves is the service's business
	}
	a = a.Unmap()
	return !a.IsGlobalUnicast() || a.IsPrivate()
}
