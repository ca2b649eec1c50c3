package lms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/memstore"
)

// hookReceiver is a webhook receiver on loopback: it records every
// delivery and answers with the status its mode says.
type hookReceiver struct {
	srv    *httptest.Server
	status atomic.Int64 // the answer; 0 means 204
	// fails is how many deliveries to refuse (500) before status applies.
	fails   atomic.Int64
	arrived chan struct{} // one value per delivery (buffered)

	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	at     time.Time
	header http.Header
	body   []byte
}

func newHookReceiver(t testing.TB) *hookReceiver {
	r := &hookReceiver{arrived: make(chan struct{}, 1<<16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{at: time.Now(), header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		status := int(r.status.Load())
		if r.fails.Add(-1) >= 0 {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(max(status, http.StatusNoContent))
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// await waits for n more deliveries.
func (r *hookReceiver) await(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-r.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for delivery %d of %d", i+1, n)
		}
	}
}

// verify checks d with the Standard Webhooks reference library.
func verify(t testing.TB, secret string, d delivery) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(d.body, d.header), "the reference library refuses the delivery")
}

type hookBody struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

type hookLink struct {
	URL               string  `json:"url"`
	State             string  `json:"state"`
	Reason            string  `json:"reason"`
	Code              int     `json:"code"`
	FinalURL          *string `json:"final_url"`
	PermanentRedirect bool    `json:"permanent_redirect"`
	Sources           []struct {
		ID, Title string
		EditURL   string  `json:"edit_url"`
		Owner     *string `json:"owner"`
	} `json:"sources"`
}

func decodeHook(t testing.TB, d delivery) (hookBody, []hookLink) {
	t.Helper()
	var b hookBody
	require.NoError(t, json.Unmarshal(d.body, &b))
	_, err := time.Parse(time.RFC3339Nano, b.Timestamp)
	require.NoError(t, err, "timestamp %q", b.Timestamp)
	var data struct {
		Changes []hookLink `json:"changes"`
		Links   []hookLink `json:"links"`
	}
	require.NoError(t, json.Unmarshal(b.Data, &data))
	return b, append(data.Changes, data.Links...)
}

// sourcedStore is a memstore that knows where links are used, as the
// stores of the JSON API do (lms.SourceLookup).
type sourcedStore struct{ *memstore.Store }

func (sourcedStore) LinkSources(_ context.Context, _ string, urls []string) (map[string][]lms.SourceRef, error) {
	out := map[string][]lms.SourceRef{}
	for _, u := range urls {
		if strings.Contains(u, "a.example") {
			out[u] = []lms.SourceRef{{ID: "page-1", Title: "Home", EditURL: "https://cms.example/edit/1", Owner: "ed@example.org"}}
		}
	}
	return out, nil
}

func hookConfig(mb lms.Mailer) lms.Config {
	cfg := notifyConfig(mb)
	cfg.CheckerConfig.AllowPrivate = true // the receivers are on loopback
	cfg.NotifyPoll = 5 * time.Millisecond
	cfg.Components = lms.RunNotifier // a sync would send links.synced
	return cfg
}

// webhookClient makes a client that has only a webhook (no XML-RPC
// callback), subscribed to urls, as the JSON API creates them.
func webhookClient(t testing.TB, e *lms.Engine, id, url string, urls ...string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.Store().CreateClient(ctx, lms.Client{ID: id, ContactName: "Contact " + id, ContactEmail: id + "@example.org", Notify: true, Created: time.Now()}))
	require.NoError(t, e.SetWebhookURL(ctx, id, url))
	if len(urls) > 0 {
		_, err := e.RegisterURLs(ctx, id, urls)
		require.NoError(t, err)
	}
}

func TestWebhookLinksChangedBothChannels(t *testing.T) {
	st := sourcedStore{memstore.New()}
	cb, hook := newReceiver(t), newHookReceiver(t)
	e, err := lms.New(st, hookConfig(nil))
	require.NoError(t, err)
	registerAt(t, e, "site", cb.srv.URL, "http://a.example/", "http://b.example/")
	require.NoError(t, e.SetWebhookURL(context.Background(), "site", hook.srv.URL+"/hooks"))
	secret, err := e.RotateWebhookSecret(context.Background(), "site")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	require.NoError(t, st.RecordResults(context.Background(), []lms.Outcome{
		{URL: "http://a.example/", Checked: time.Now(), NextDue: time.Now().Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}},
		{URL: "http://b.example/", Checked: time.Now(), NextDue: time.Now().Add(time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200, FinalURL: "https://b.example/new", Permanent: true}},
	}))
	stop := runEngine(t, e)
	hook.await(t, 1)
	waitFor(t, 5*time.Second, "the callback's push and the acknowledgement", func() bool {
		n, _ := st.PendingCount(context.Background(), "site")
		return n == 0 && len(cb.states()) == 2
	})
	waitFor(t, 5*time.Second, "the delivery recorded", func() bool {
		ds, _ := e.WebhookDeliveries(context.Background(), "site", 1)
		return len(ds) == 1 && !ds[0].Delivered.IsZero()
	})
	stop()
	d := hook.deliveries()
	require.Len(t, d, 1, "one batch, one delivery")
	verify(t, secret, d[0])
	require.Equal(t, "application/json", d[0].header.Get("Content-Type"))
	b, links := decodeHook(t, d[0])
	require.Equal(t, lms.EventLinksChanged, b.Type)
	require.Len(t, links, 2)
	a, bb := links[0], links[1]
	require.Equal(t, "http://a.example/", a.URL)
	require.Equal(t, "unavailable", a.State)
	require.Equal(t, "Not Found", a.Reason)
	require.Equal(t, 404, a.Code)
	require.Nil(t, a.FinalURL)
	require.Len(t, a.Sources, 1)
	require.Equal(t, "page-1", a.Sources[0].ID)
	require.Equal(t, "https://cms.example/edit/1", a.Sources[0].EditURL)
	require.Equal(t, "ed@example.org", *a.Sources[0].Owner)
	require.Equal(t, "https://b.example/new", *bb.FinalURL)
	require.True(t, bb.PermanentRedirect)
	require.NotNil(t, bb.Sources)
	require.Empty(t, bb.Sources)
	require.Equal(t, [][]string{{"http://a.example/", "unavailable", "Not Found"}, {"http://b.example/", "ok", "OK"}}, cb.states(), "the callback receives every change too")
	ds, err := e.WebhookDeliveries(context.Background(), "site", 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, d[0].header.Get("webhook-id"), ds[0].ID)
	require.Equal(t, 1, ds[0].Attempts)
	require.Equal(t, http.StatusNoContent, ds[0].Status)
	require.False(t, ds[0].Delivered.IsZero())
}

// TestWebhookCallbackFailsWebhookOnce: while the callback fails, the
// changes stay pending for it, and the webhook gets them once, not once
// per retry of the callback.
func TestWebhookCallbackFailsWebhookOnce(t *testing.T) {
	st := memstore.New()
	cb, hook := newReceiver(t), newHookReceiver(t)
	cb.setMode("401")
	cfg := hookConfig(nil)
	cfg.NotifyInterval, cfg.NotifyBackoffMax = 5*time.Millisecond, 10*time.Millisecond
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	registerAt(t, e, "site", cb.srv.URL, "http://a.example/")
	require.NoError(t, e.SetWebhookURL(context.Background(), "site", hook.srv.URL))
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	stop := runEngine(t, e)
	hook.await(t, 1)
	waitFor(t, 5*time.Second, "several failed callback pushes", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return c.NotifyFailures >= 3
	})
	require.Len(t, hook.deliveries(), 1)
	require.Empty(t, hook.deliveries()[0].header.Get("webhook-signature"), "no secret yet: unsigned")
	// The link changes again: a new change, a new event.
	setState(t, st, "http://a.example/", lms.StateUnavailable, "Not Found")
	hook.await(t, 1)
	cb.setMode("ok")
	waitFor(t, 5*time.Second, "the callback catches up", func() bool {
		n, _ := st.PendingCount(context.Background(), "site")
		return n == 0
	})
	stop()
	require.Len(t, hook.deliveries(), 2)
	_, links := decodeHook(t, hook.deliveries()[1])
	require.Equal(t, "unavailable", links[0].State)
	require.Equal(t, [][]string{{"http://a.example/", "unavailable", "Not Found"}}, cb.states())
}

func TestWebhookRetryKeepsIDWithBackoff(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	hook.fails.Store(3)
	cfg := hookConfig(nil)
	cfg.NotifyInterval, cfg.NotifyBackoffMax = 40*time.Millisecond, time.Second
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	webhookClient(t, e, "site", hook.srv.URL, "http://a.example/")
	secret, err := e.RotateWebhookSecret(context.Background(), "site")
	require.NoError(t, err)
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	stop := runEngine(t, e)
	hook.await(t, 4)
	waitFor(t, 5*time.Second, "the success recorded", func() bool {
		ds, _ := e.WebhookDeliveries(context.Background(), "site", 1)
		return len(ds) == 1 && !ds[0].Delivered.IsZero()
	})
	stop()
	d := hook.deliveries()
	require.Len(t, d, 4)
	for _, x := range d {
		verify(t, secret, x)
		require.Equal(t, d[0].header.Get("webhook-id"), x.header.Get("webhook-id"), "every attempt carries the same id")
		require.Equal(t, string(d[0].body), string(x.body))
	}
	// Back-off doubles (40, 80, 160 ms, ±20 %).
	g1, g2, g3 := d[1].at.Sub(d[0].at), d[2].at.Sub(d[1].at), d[3].at.Sub(d[2].at)
	require.GreaterOrEqual(t, g1, 32*time.Millisecond)
	require.Greater(t, g2, g1, "the second wait is longer")
	require.Greater(t, g3, g2, "the third wait is longer")
	ds, err := e.WebhookDeliveries(context.Background(), "site", 0)
	require.NoError(t, err)
	require.Equal(t, 4, ds[0].Attempts)
	require.Equal(t, http.StatusNoContent, ds[0].Status)
	require.Empty(t, ds[0].Error)
	c, _ := st.GetClient(context.Background(), "site")
	require.Zero(t, c.WebhookFailures, "a success resets the failures")
	stats, err := e.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), stats.WebhooksDelivered)
	require.Equal(t, uint64(3), stats.WebhookFailures)
	n, _ := st.PendingCount(context.Background(), "site")
	require.Zero(t, n, "a webhook-only client's changes are acknowledged with the event")
}

func TestWebhookRotationSignsWithBoth(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	var offset atomic.Int64
	cfg := hookConfig(nil)
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	webhookClient(t, e, "site", hook.srv.URL, "http://a.example/")
	ctx := context.Background()
	old, err := e.RotateWebhookSecret(ctx, "site")
	require.NoError(t, err)
	cur, err := e.RotateWebhookSecret(ctx, "site")
	require.NoError(t, err)
	require.NotEqual(t, old, cur)
	stop := runEngine(t, e)
	defer stop()

	d, err := e.TestWebhook(ctx, "site")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, d.Status)
	hook.await(t, 1)
	got := hook.deliveries()[0]
	require.Len(t, strings.Fields(got.header.Get("webhook-signature")), 2, "both signatures during the rotation")
	verify(t, cur, got)
	verify(t, old, got)

	// After the overlap only the new secret signs.
	offset.Store(int64(lms.WebhookRotationOverlap + time.Minute))
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	hook.await(t, 1)
	got = hook.deliveries()[1]
	require.Len(t, strings.Fields(got.header.Get("webhook-signature")), 1)
	for _, s := range []string{cur, old} {
		wh, err := standardwebhooks.NewWebhook(s)
		require.NoError(t, err)
		err = wh.VerifyIgnoringTimestamp(got.body, got.header) // the clock is a day ahead
		if s == cur {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, standardwebhooks.ErrNoMatchingSignature)
		}
	}
}

func TestWebhookTurnedOffAfterFailures(t *testing.T) {
	st := newCountingStore(memstore.New())
	hook := newHookReceiver(t)
	hook.status.Store(http.StatusServiceUnavailable)
	mb := &flakyMailer{}
	cfg := hookConfig(mb)
	cfg.NotifyInterval, cfg.NotifyBackoffMax, cfg.NotifyMaxFailures = 5*time.Millisecond, 10*time.Millisecond, 4
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	webhookClient(t, e, "site", hook.srv.URL, "http://a.example/")
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	stop := runEngine(t, e)
	waitFor(t, 10*time.Second, "the webhook turned off", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return !c.WebhookDisabledAt.IsZero()
	})
	waitFor(t, 5*time.Second, "the mail", func() bool { return len(mb.subjects()) == 1 })
	require.Equal(t, `Webhook of client id "site" turned off`, mb.subjects()[0])
	require.Contains(t, mb.delivered()[0].Body, "503")
	c, _ := st.GetClient(context.Background(), "site")
	require.Equal(t, 4, c.WebhookFailures)
	stats, err := e.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(4), stats.WebhookFailures)
	require.Equal(t, uint64(1), stats.WebhooksDisabled)
	require.Contains(t, c.WebhookLastError, "HTTP 503")
	// Off: no further attempts, and the event waits.
	setState(t, st, "http://a.example/", lms.StateUnavailable, "Not Found")
	st.awaitCalls(t, "WebhookClients", 3) // the deliverer's rounds: it would have sent by now
	require.Len(t, hook.deliveries(), 4)
	n, _ := st.PendingCount(context.Background(), "site")
	require.Equal(t, 1, n, "a change that came while it was off stays pending")
	ds, _ := e.WebhookDeliveries(context.Background(), "site", 0)
	require.Len(t, ds, 1)
	require.True(t, ds[0].Pending())
	require.Equal(t, 4, ds[0].Attempts)

	// Repaired and set again: the waiting event, then the new change.
	hook.status.Store(http.StatusOK)
	require.NoError(t, e.SetWebhookURL(context.Background(), "site", hook.srv.URL))
	hook.await(t, 6)
	stop()
	d := hook.deliveries()
	require.Equal(t, d[0].header.Get("webhook-id"), d[4].header.Get("webhook-id"), "the first event, under its id")
	_, links := decodeHook(t, d[5])
	require.Equal(t, "unavailable", links[0].State)
}

func TestWebhookTestAndBadInput(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	e, err := lms.New(st, hookConfig(nil))
	require.NoError(t, err)
	ctx := context.Background()
	registerAt(t, e, "site", "http://127.0.0.1:1/unused")
	_, err = e.TestWebhook(ctx, "site")
	require.ErrorIs(t, err, lms.ErrInvalid, "no webhook URL")
	for _, bad := range []string{"ftp://hooks.example/", "hooks.example/in", "http://", "http://a b.example/", strings.Repeat("x", 5000)} {
		require.ErrorIs(t, e.SetWebhookURL(ctx, "site", bad), lms.ErrInvalid, bad)
	}
	c, _ := st.GetClient(ctx, "site")
	require.Empty(t, c.WebhookURL, "bad input changes nothing")
	require.ErrorIs(t, e.SetWebhookURL(ctx, "nobody", hook.srv.URL), lms.ErrNotFound)
	_, err = e.RotateWebhookSecret(ctx, "nobody")
	require.ErrorIs(t, err, lms.ErrNotFound)
	_, err = e.WebhookDeliveries(ctx, "nobody", 10)
	require.ErrorIs(t, err, lms.ErrNotFound)

	require.NoError(t, e.SetWebhookURL(ctx, "site", hook.srv.URL))
	secret, err := e.RotateWebhookSecret(ctx, "site")
	require.NoError(t, err)
	d, err := e.TestWebhook(ctx, "site")
	require.NoError(t, err)
	require.Equal(t, lms.EventWebhookTest, d.Type)
	require.Equal(t, 1, d.Attempts)
	hook.await(t, 1)
	got := hook.deliveries()[0]
	verify(t, secret, got)
	b, _ := decodeHook(t, got)
	require.Equal(t, lms.EventWebhookTest, b.Type)
	require.Equal(t, d.ID, got.header.Get("webhook-id"))
	ds, err := e.WebhookDeliveries(ctx, "site", 0)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.False(t, ds[0].Pending(), "a test is not retried")

	// A failed test is logged with its reason and not retried.
	hook.status.Store(http.StatusGone)
	d, err = e.TestWebhook(ctx, "site")
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, d.Status)
	require.Contains(t, d.Error, "HTTP 410")
	require.True(t, d.NextAttempt.IsZero())
	c, _ = st.GetClient(ctx, "site")
	require.Zero(t, c.WebhookFailures, "a test does not count toward turning the webhook off")

	// Removing the URL.
	require.NoError(t, e.SetWebhookURL(ctx, "site", ""))
	_, err = e.TestWebhook(ctx, "site")
	require.ErrorIs(t, err, lms.ErrInvalid)
}

// TestWebhookSSRF: without AllowPrivate a webhook cannot reach loopback.
func TestWebhookSSRF(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	cfg := hookConfig(nil)
	cfg.CheckerConfig.AllowPrivate = false
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	webhookClient(t, e, "site", hook.srv.URL)
	d, err := e.TestWebhook(context.Background(), "site")
	require.NoError(t, err)
	require.Zero(t, d.Status)
	require.Contains(t, d.Error, "not allowed")
	require.Empty(t, hook.deliveries())
}

// TestWebhookSynced: a sync of a webhook-only client sends the full
// state list in pages, the last marked.
func TestWebhookSynced(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	cfg := hookConfig(nil)
	cfg.NotifyChunk = 2
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	var urls []string
	for i := range 5 {
		urls = append(urls, fmt.Sprintf("http://h%d.example/", i))
	}
	webhookClient(t, e, "site", hook.srv.URL, urls...)
	setState(t, st, urls[0], lms.StateOK, "OK")
	require.NoError(t, st.AckUpdates(context.Background(), "site", mustPending(t, st, "site")))
	require.NoError(t, e.Sync(context.Background(), "site"))
	stop := runEngine(t, e)
	hook.await(t, 3)
	stop()
	var got []string
	syncIDs := map[string]bool{}
	for i, d := range hook.deliveries() {
		b, links := decodeHook(t, d)
		require.Equal(t, lms.EventLinksSynced, b.Type)
		var page struct {
			SyncID string `json:"sync_id"`
			Page   int    `json:"page"`
			Last   bool   `json:"last"`
		}
		require.NoError(t, json.Unmarshal(b.Data, &page))
		require.Equal(t, i+1, page.Page)
		require.Equal(t, i == 2, page.Last)
		syncIDs[page.SyncID] = true
		for _, l := range links {
			got = append(got, l.URL+" "+l.State)
		}
	}
	require.Len(t, syncIDs, 1, "the pages of one sync share its id")
	require.Equal(t, []string{urls[0] + " ok", urls[1] + " unknown", urls[2] + " unknown", urls[3] + " unknown", urls[4] + " unknown"}, got)
}

func mustPending(t testing.TB, st lms.Store, id string) []lms.PendingUpdate {
	t.Helper()
	ps, err := st.PendingUpdates(context.Background(), id, 0)
	require.NoError(t, err)
	return ps
}

// TestWebhookVerifiedByNodeLibrary verifies deliveries end to end with the
// JavaScript reference library (npm standardwebhooks, installed by .ci/run
// into internal/stdwebhook/testdata/js): one signed with one secret, one
// during a rotation with both. It skips where node or the package is
// missing.
func TestWebhookVerifiedByNodeLibrary(t *testing.T) {
	dir := filepath.Join("internal", "stdwebhook", "testdata", "js")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks", "package.json")); err != nil {
		t.Skip("npm standardwebhooks is not installed (run: npm ci --prefix " + dir + ")")
	}
	st := memstore.New()
	hook := newHookReceiver(t)
	e, err := lms.New(st, hookConfig(nil))
	require.NoError(t, err)
	webhookClient(t, e, "site", hook.srv.URL, "http://a.example/")
	ctx := context.Background()
	first, err := e.RotateWebhookSecret(ctx, "site")
	require.NoError(t, err)
	stop := runEngine(t, e)
	defer stop()
	setState(t, st, "http://a.example/", lms.StateUnavailable, "Not Found")
	hook.await(t, 1)
	second, err := e.RotateWebhookSecret(ctx, "site")
	require.NoError(t, err)
	_, err = e.TestWebhook(ctx, "site")
	require.NoError(t, err)
	hook.await(t, 1)
	d := hook.deliveries()
	type jsDelivery struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	var in []jsDelivery
	add := func(secret string, d delivery) {
		h := map[string]string{}
		for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			h[k] = d.header.Get(k)
		}
		in = append(in, jsDelivery{Secret: secret, Headers: h, Body: string(d.body)})
	}
	add(first, d[0])
	add(first, d[1])
	add(second, d[1])
	b, err := json.Marshal(in)
	require.NoError(t, err)
	cmd := exec.Command(node, "verify.js")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(b))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "node: %s", out)
	require.Equal(t, "verified 3\n", string(out))

	// And a tampered body is refused: the check can fail.
	in[0].Body = strings.Replace(in[0].Body, "Not Found", "Not F0und", 1)
	b, _ = json.Marshal(in[:1])
	cmd = exec.Command(node, "verify.js")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(b))
	out, err = cmd.CombinedOutput()
	require.Error(t, err, "node accepted a tampered body: %s", out)
}

// TestWebhookBackOnAtOnce: a webhook set again after it was turned off
// delivers its waiting event at once, not after the rest of its back-off.
func TestWebhookBackOnAtOnce(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	hook.fails.Store(1)
	mb := &flakyMailer{}
	cfg := hookConfig(mb)
	cfg.NotifyInterval, cfg.NotifyBackoffMax, cfg.NotifyMaxFailures = time.Hour, time.Hour, 1
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	webhookClient(t, e, "site", hook.srv.URL, "http://a.example/")
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	stop := runEngine(t, e)
	defer stop()
	hook.await(t, 1)
	waitFor(t, 5*time.Second, "the webhook turned off", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return !c.WebhookDisabledAt.IsZero()
	})
	ds, err := e.WebhookDeliveries(context.Background(), "site", 1)
	require.NoError(t, err)
	require.Greater(t, time.Until(ds[0].NextAttempt), 30*time.Minute, "the back-off after the failure")
	require.NoError(t, e.SetWebhookURL(context.Background(), "site", hook.srv.URL))
	hook.await(t, 1)
	d := hook.deliveries()
	require.Equal(t, d[0].header.Get("webhook-id"), d[1].header.Get("webhook-id"))
}

// TestWebhookNotHeldBackByCallback: a callback that backs off for an hour,
// or was switched off by its failures, does not hold the webhook back;
// its changes stay pending for it.
func TestWebhookNotHeldBackByCallback(t *testing.T) {
	for _, maxFailures := range []int{20, 1} {
		t.Run(fmt.Sprint("max failures ", maxFailures), func(t *testing.T) {
			st := memstore.New()
			cb, hook := newReceiver(t), newHookReceiver(t)
			cb.setMode("401")
			cfg := hookConfig(nil)
			cfg.NotifyInterval, cfg.NotifyBackoffMax, cfg.NotifyMaxFailures = time.Hour, time.Hour, maxFailures
			e, err := lms.New(st, cfg)
			require.NoError(t, err)
			registerAt(t, e, "site", cb.srv.URL, "http://a.example/", "http://b.example/")
			require.NoError(t, e.SetWebhookURL(context.Background(), "site", hook.srv.URL))
			setState(t, st, "http://a.example/", lms.StateOK, "OK")
			stop := runEngine(t, e)
			defer stop()
			hook.await(t, 1)
			waitFor(t, 5*time.Second, "the failed push", func() bool {
				c, _ := st.GetClient(context.Background(), "site")
				return c.NotifyFailures == 1 && c.NotifyLease.Holder == ""
			})
			c, _ := st.GetClient(context.Background(), "site")
			require.Equal(t, maxFailures == 1, !c.Notify, "switched off after %d failures", maxFailures)
			setState(t, st, "http://b.example/", lms.StateUnavailable, "Not Found")
			hook.await(t, 1)
			_, links := decodeHook(t, hook.deliveries()[1])
			require.Len(t, links, 1)
			require.Equal(t, "http://b.example/", links[0].URL)
			require.Len(t, mustPending(t, st, "site"), 2, "both changes stay pending for the callback")
		})
	}
}

// TestWebhookSurvivesKill: a process killed with SIGKILL while a delivery
// is in flight (the receiver has the request and has not answered) loses
// nothing: a process started on the same store file delivers the event
// again, with the same id, once the dead process's hold has ended.
func TestWebhookSurvivesKill(t *testing.T) {
	if path := os.Getenv("LMS_HOOK_KILL_CHILD"); path != "" {
		hookKillChild(t, path, os.Getenv("LMS_HOOK_KILL_URL"))
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	var answer atomic.Bool // false: hold the request until the test ends
	arrived := make(chan http.Header, 16)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		arrived <- r.Header.Clone()
		if !answer.Load() {
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	defer close(done)
	path := filepath.Join(t.TempDir(), "lms.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookSurvivesKill$")
	cmd.Env = append(os.Environ(), "LMS_HOOK_KILL_CHILD="+path, "LMS_HOOK_KILL_URL="+srv.URL)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	var first http.Header
	select {
	case first = <-arrived:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the child's delivery did not arrive")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	st, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	defer st.Close()
	cfg := hookConfig(nil)
	// The dead process held the event for 90 s; this process's clock is
	// past that (the signature's timestamp stays within the 5 min a
	// receiver tolerates).
	cfg.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	answer.Store(true)
	stop := runEngine(t, e)
	defer stop()
	var again http.Header
	select {
	case again = <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the event was not delivered after the restart")
	}
	require.Equal(t, first.Get("webhook-id"), again.Get("webhook-id"), "the same event, under its id")
	// The killed attempt was never recorded: the log counts this one.
	waitFor(t, 10*time.Second, "the delivery recorded", func() bool {
		ds, _ := e.WebhookDeliveries(context.Background(), "site", 1)
		return len(ds) == 1 && !ds[0].Delivered.IsZero() && ds[0].Attempts == 1
	})
}

// hookKillChild runs an engine over the bolt file at path whose client
// "site" has a webhook at url and one changed link, until it is killed.
func hookKillChild(t *testing.T, path, url string) {
	st, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	e, err := lms.New(st, hookConfig(nil))
	require.NoError(t, err)
	webhookClient(t, e, "site", url, "http://a.example/")
	_, err = e.RotateWebhookSecret(context.Background(), "site")
	require.NoError(t, err)
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	_ = e.Run(context.Background()) // until SIGKILL
}

// TestWebhookStopHandsBack: a process that stops while a delivery is in
// flight hands the event back, so that the next process sends it at once
// rather than after the hold (90 s).
func TestWebhookStopHandsBack(t *testing.T) {
	st := memstore.New()
	hook := newHookReceiver(t)
	release := make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() {
			hook.arrived <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		hook.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(release)
	e1, err := lms.New(st, hookConfig(nil))
	require.NoError(t, err)
	webhookClient(t, e1, "site", srv.URL, "http://a.example/")
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	stop1 := runEngine(t, e1)
	hook.await(t, 1)
	stop1()
	hold.Store(false)
	e2, err := lms.New(st, hookConfig(nil)) // another process id
	require.NoError(t, err)
	stop2 := runEngine(t, e2)
	defer stop2()
	hook.await(t, 1)
	ds, err := e2.WebhookDeliveries(context.Background(), "site", 0)
	require.NoError(t, err)
	require.Len(t, ds, 1)
}
