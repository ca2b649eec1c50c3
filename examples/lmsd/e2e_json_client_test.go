package main

// The clients of TestJSONEndToEnd: a JSON client whose answers are
// validated against the OpenAPI document, a webhook receiver, and the
// verifications of deliveries with the Standard Webhooks reference
// libraries.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/internal/stdwebhook"
)

// client is a JSON client of p whose every answer is validated against
// the OpenAPI document.
func (x *e2e) client(p *lmsdProc) *jsonClient {
	return &jsonClient{t: x.t, base: strings.TrimSuffix(p.base, "/"), c: &http.Client{Transport: x.contract.Transport(x.t, nil)}}
}

// jsonClient talks to one lmsd's JSON API.
type jsonClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

// jsonAuth is how a request authenticates.
type jsonAuth func(*http.Request)

func bearerAuth(tok string) jsonAuth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func basicAuth(id, pw string) jsonAuth { return func(r *http.Request) { r.SetBasicAuth(id, pw) } }

var adminAuth = bearerAuth(secret)

func noneAuth(*http.Request) {}

// jsonBody is a body sent as is with its own Content-Type.
type jsonBody struct{ body, contentType string }

// jsonAnswer is one answer of the API.
type jsonAnswer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request: body is sent as is if it is a string, a jsonBody or
// an io.Reader (then without a length), else JSON-encoded.
func (c *jsonClient) do(method, path string, a jsonAuth, body any) jsonAnswer {
	c.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case jsonBody:
		rd, ct = strings.NewReader(b.body), b.contentType
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	a(req)
	resp, err := c.c.Do(req)
	require.NoError(c.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return jsonAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

// newSecret makes a new webhook signing secret.
func (c *jsonClient) newSecret(me jsonAuth) string {
	c.t.Helper()
	var s struct {
		Secret string `json:"secret"`
	}
	c.do("POST", "/api/v1/client/webhook/secret", me, nil).want(c.t, 201).decode(c.t, &s)
	require.True(c.t, strings.HasPrefix(s.Secret, "whsec_"), "secret %q", s.Secret)
	return s.Secret
}

func (a jsonAnswer) want(t *testing.T, status int) jsonAnswer {
	t.Helper()
	require.Equal(t, status, a.status, "answer %.500s", a.body)
	return a
}

func (a jsonAnswer) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.body, v), "answer %d %.500s", a.status, a.body)
}

// jsonProblem is an RFC 9457 problem of the API.
type jsonProblem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

func (p jsonProblem) names(field string) bool {
	return slices.ContainsFunc(p.Errors, func(e struct {
		Field string `json:"field"`
	}) bool {
		return e.Field == field
	})
}

func (a jsonAnswer) problem(t *testing.T) jsonProblem {
	t.Helper()
	require.Equal(t, "application/problem+json", a.header.Get("Content-Type"), "answer %d %.500s", a.status, a.body)
	var p jsonProblem
	a.decode(t, &p)
	require.Equal(t, a.status, p.Status)
	return p
}

// hookSink is a client's webhook receiver: it hands each delivery to the
// test as it arrives, and answers 204, or while holding, holds the
// request open until lmsd goes away.
type hookSink struct {
	srv      *httptest.Server
	got      chan hookDelivery
	answered chan string // the webhook-id of each delivery answered 204
	mu       sync.Mutex
	hold     bool
	done     chan struct{}
}

// hookDelivery is one delivery as received.
type hookDelivery struct {
	header http.Header
	body   []byte
}

func (d hookDelivery) id() string { return d.header.Get(stdwebhook.HeaderID) }

// hookEvent is the body of a delivery.
type hookEvent struct {
	Type string `json:"type"`
	Data struct {
		Changes []struct {
			URL     string `json:"url"`
			State   string `json:"state"`
			Sources []struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"sources"`
		} `json:"changes"`
	} `json:"data"`
}

func (d hookDelivery) event(t *testing.T) hookEvent {
	t.Helper()
	var ev hookEvent
	require.NoError(t, json.Unmarshal(d.body, &ev), "%s", d.body)
	return ev
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{got: make(chan hookDelivery, 256), answered: make(chan string, 256), done: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		h.mu.Lock()
		hold := h.hold
		h.mu.Unlock()
		h.got <- hookDelivery{header: r.Header.Clone(), body: body}
		if hold {
			select {
			case <-r.Context().Done(): // lmsd is gone
			case <-h.done:
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
		h.answered <- r.Header.Get(stdwebhook.HeaderID)
	}))
	t.Cleanup(func() {
		close(h.done)
		h.srv.Close()
	})
	return h
}

func (h *hookSink) setHold(on bool) {
	h.mu.Lock()
	h.hold = on
	h.mu.Unlock()
}

// next returns the next delivery, or fails the test after within.
func (h *hookSink) next(t *testing.T, within time.Duration, what string) hookDelivery {
	t.Helper()
	select {
	case d := <-h.got:
		return d
	case <-time.After(within):
		t.Fatalf("no delivery within %v: %s", within, what)
		return hookDelivery{}
	}
}

// waitAnswered waits until the delivery id has been answered.
func (h *hookSink) waitAnswered(t *testing.T, id string) {
	t.Helper()
	for {
		select {
		case got := <-h.answered:
			if got == id {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %s not answered", id)
		}
	}
}

// verifyWith verifies d with the Go reference library under secret.
func verifyWith(t *testing.T, d hookDelivery, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(d.body, d.header), "delivery %s (%s)", d.id(), d.header.Get(stdwebhook.HeaderSignature))
}

// verifyEachSignature: d carries two signatures, one per secret; each
// alone verifies with its secret and not with the other.
func verifyEachSignature(t *testing.T, d hookDelivery, secret1, secret2 string) {
	t.Helper()
	verifyWith(t, d, secret1)
	verifyWith(t, d, secret2)
	sigs := strings.Fields(d.header.Get(stdwebhook.HeaderSignature))
	require.Len(t, sigs, 2, "both signatures during the overlap")
	verifies := func(sig, secret string) bool {
		h := d.header.Clone()
		h.Set(stdwebhook.HeaderSignature, sig)
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		return wh.Verify(d.body, h) == nil
	}
	var by1, by2 int
	for _, s := range sigs {
		a, b := verifies(s, secret1), verifies(s, secret2)
		require.True(t, a != b, "signature %s verifies with exactly one secret", s)
		if a {
			by1++
		} else {
			by2++
		}
	}
	require.Equal(t, [2]int{1, 1}, [2]int{by1, by2})
	other, err := standardwebhooks.NewWebhook(stdwebhook.NewSecret())
	require.NoError(t, err)
	require.Error(t, other.Verify(d.body, d.header), "another secret verifies")
}

// nodeDelivery is a delivery for verify.js with the secret to verify it
// with.
type nodeDelivery struct {
	secret string
	d      hookDelivery
}

// verifyWithNode verifies deliveries with npm standardwebhooks
// (internal/stdwebhook/testdata/js/verify.js), and that it refuses a
// tampered one. It skips where node or the package is missing.
func verifyWithNode(t *testing.T, ds []nodeDelivery) {
	t.Helper()
	dir := filepath.Join("..", "..", "internal", "stdwebhook", "testdata", "js")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Log("node is not installed: npm standardwebhooks not run")
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks", "package.json")); err != nil {
		t.Logf("npm standardwebhooks is not installed (npm ci --prefix %s): not run", dir)
		return
	}
	type jsDelivery struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	var in []jsDelivery
	for _, d := range ds {
		h := map[string]string{}
		for _, k := range []string{stdwebhook.HeaderID, stdwebhook.HeaderTimestamp, stdwebhook.HeaderSignature} {
			h[k] = d.d.header.Get(k)
		}
		in = append(in, jsDelivery{Secret: d.secret, Headers: h, Body: string(d.d.body)})
	}
	verify := func(in []jsDelivery) (string, error) {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		cmd := exec.Command(node, "verify.js")
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify(in)
	require.NoError(t, err, "node: %s", out)
	require.Equal(t, fmt.Sprintf("verified %d\n", len(in)), out)
	t.Logf("npm standardwebhooks: %s", strings.TrimSpace(out))
	in[0].Body = strings.Replace(in[0].Body, `"changes"`, `"chAnges"`, 1)
	require.NotEqual(t, string(ds[0].d.body), in[0].Body)
	out, err = verify(in[:1])
	require.Error(t, err, "node accepted a tampered body: %s", out)
}
