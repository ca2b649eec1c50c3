package lms_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// receiver is a client's callback endpoint in Go: it decodes the calls with
// the xmlrpcapi codec, records them, and can misbehave on demand.
type receiver struct {
	t     testing.TB
	srv   *httptest.Server
	mode  atomic.Value // "ok", "401", "fault", "hang", "down", "huge"
	links []any
	// closing ends hanging handlers when the test ends.
	closing chan struct{}

	mu    sync.Mutex
	calls []rcall
}

type rcall struct {
	at      time.Time
	method  string
	id, pw  string
	triples [][]string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, closing: make(chan struct{})}
	r.mode.Store("ok")
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(r.closing) }) // runs first: frees hanging handlers
	return r
}

func (r *receiver) setMode(m string) { r.mode.Store(m) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	switch r.mode.Load().(string) {
	case "401":
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	case "fault":
		_, _ = w.Write(xmlrpcapi.EncodeFault(-1, "Unexpected Zope exception: ConflictError"))
		return
	case "hang":
		_, _ = io.Copy(io.Discard, req.Body) // so that the server notices the client hanging up
		select {
		case <-req.Context().Done():
		case <-r.closing:
		}
		return
	case "down":
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
		return
	case "huge":
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte("<?xml version=\"1.0\"?><methodResponse><params><param><value><string>"))
		chunk := []byte(strings.Repeat("x", 1<<16))
		for i := 0; i < 2048 && req.Context().Err() == nil; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	}
	method, params, err := xmlrpcapi.DecodeCall(req.Body, xmlrpcapi.Limits{})
	if err != nil {
		_, _ = w.Write(xmlrpcapi.EncodeFault(-32700, err.Error()))
		return
	}
	c := rcall{at: time.Now(), method: method}
	c.id, _ = params[0].(string)
	c.pw, _ = params[1].(string)
	var resp []byte
	switch method {
	case "updateManyStates":
		for _, tr := range params[2].([]any) {
			a := tr.([]any)
			c.triples = append(c.triples, []string{a[0].(string), a[1].(string), a[2].(string)})
		}
		resp, _ = xmlrpcapi.EncodeResponse(nil) // Zope answers <nil/>
	case "xmlrpc_getAllLinks":
		resp, _ = xmlrpcapi.EncodeResponse(r.links)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	_, _ = w.Write(resp)
}

func (r *receiver) got(method string) []rcall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []rcall
	for _, c := range r.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// states returns every triple received, in order.
func (r *receiver) states() [][]string {
	var out [][]string
	for _, c := range r.got("updateManyStates") {
		out = append(out, c.triples...)
	}
	return out
}

func notifyConfig(mb lms.Mailer) lms.Config {
	cb := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, Timeout: 500 * time.Millisecond, Chunk: 1000})
	return lms.Config{
		AdminSecret: adminSecret, Components: lms.RunNotifier | lms.RunSyncer, Notifier: cb, Lister: cb, Mailer: mb,
		NotifyPoll: 10 * time.Millisecond, NotifyInterval: 100 * time.Millisecond, NotifyBackoffMax: 200 * time.Millisecond,
		SyncPoll: 10 * time.Millisecond, NotifyTimeout: 5 * time.Second,
	}
}

func registerAt(t *testing.T, e *lms.Engine, id, callback string, urls ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: id, Password: "password-" + id, ContactName: "Contact " + id, ContactEmail: id + "@example.org", CallbackURL: callback})
	require.NoError(t, err)
	if len(urls) > 0 {
		_, err = e.RegisterURLs(ctx, id, urls)
		require.NoError(t, err)
	}
}

// setState records a check result as a checker (maybe in another process) would.
func setState(t testing.TB, st lms.Store, u string, s lms.State, reason string) {
	t.Helper()
	require.NoError(t, st.RecordResults(context.Background(), []lms.Outcome{{URL: u, Checked: time.Now(), NextDue: time.Now().Add(time.Hour),
		Result: lms.Result{State: s, Reason: reason}}}))
}

func TestNotifierCoalescesAndSpaces(t *testing.T) {
	st := memstore.New()
	rcv := newReceiver(t)
	e, err := lms.New(st, notifyConfig(nil))
	require.NoError(t, err)
	registerAt(t, e, "site", rcv.srv.URL+"/portal_linkchecker/database", "http://a.example/", "http://b.example/")
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	setState(t, st, "http://a.example/", lms.StateTemporary, "Service Unavailable")
	setState(t, st, "http://a.example/", lms.StateUnavailable, "Not Found")
	setState(t, st, "http://b.example/", lms.StateOK, "OK")
	stop := runEngine(t, e)
	waitFor(t, 5*time.Second, "first push", func() bool { return len(rcv.got("updateManyStates")) == 1 })
	first := rcv.got("updateManyStates")[0]
	require.Equal(t, "site", first.id)
	require.Equal(t, "password-site", first.pw)
	require.Equal(t, [][]string{{"http://a.example/", "unavailable", "Not Found"}, {"http://b.example/", "ok", "OK"}}, first.triples, "only the latest state per link")
	// A stream of changes, three between pushes: pushes stay NotifyInterval
	// apart, and the changes between them are coalesced.
	for i := range 10 {
		setState(t, st, "http://b.example/", []lms.State{lms.StateTemporary, lms.StateOK}[i%2], fmt.Sprint("change ", i))
		if i%3 == 2 {
			n := len(rcv.got("updateManyStates"))
			waitFor(t, 5*time.Second, "the next push", func() bool { return len(rcv.got("updateManyStates")) > n })
		}
	}
	waitFor(t, 5*time.Second, "all changes delivered", func() bool {
		n, _ := st.PendingCount(context.Background(), "site")
		return n == 0
	})
	stop()
	pushes := rcv.got("updateManyStates")
	require.GreaterOrEqual(t, len(pushes), 2)
	require.Less(t, len(pushes), 10, "changes between pushes are coalesced")
	for i := 1; i < len(pushes); i++ {
		require.GreaterOrEqual(t, pushes[i].at.Sub(pushes[i-1].at), 95*time.Millisecond, "push %d too soon", i)
	}
	last := pushes[len(pushes)-1].triples
	require.Equal(t, []string{"http://b.example/", "ok", "change 9"}, last[len(last)-1])
}

func TestNotifierChunks(t *testing.T) {
	st := memstore.New()
	rcv := newReceiver(t)
	e, err := lms.New(st, notifyConfig(nil))
	require.NoError(t, err)
	var urls []string
	for i := range 2500 {
		urls = append(urls, fmt.Sprintf("http://h%d.example/%d", i%50, i))
	}
	registerAt(t, e, "site", rcv.srv.URL, urls...)
	var recs []lms.Outcome
	for _, u := range urls {
		recs = append(recs, lms.Outcome{URL: u, Checked: time.Now(), NextDue: time.Now().Add(time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}})
	}
	require.NoError(t, st.RecordResults(context.Background(), recs))
	stop := runEngine(t, e)
	// About 5 s with -race on a busy machine (2,500 updates through XML-RPC).
	waitFor(t, 30*time.Second, "2500 updates", func() bool { return len(rcv.states()) == 2500 })
	stop()
	var sizes []int
	for _, c := range rcv.got("updateManyStates") {
		sizes = append(sizes, len(c.triples))
	}
	require.Equal(t, []int{1000, 1000, 500}, sizes)
}

func TestNotifierFailuresBackOffAndDisable(t *testing.T) {
	t.Parallel()
	st := newCountingStore(memstore.New())
	good, bad := newReceiver(t), newReceiver(t)
	bad.setMode("401")
	mb := &flakyMailer{}
	cfg := notifyConfig(mb)
	cfg.NotifyInterval, cfg.NotifyBackoffMax = 5*time.Millisecond, 20*time.Millisecond
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	registerAt(t, e, "good", good.srv.URL, "http://x.example/")
	registerAt(t, e, "bad", bad.srv.URL, "http://x.example/", "http://y.example/")
	setState(t, st, "http://x.example/", lms.StateOK, "OK")
	setState(t, st, "http://y.example/", lms.StateUnavailable, "Not Found")
	stop := runEngine(t, e)
	waitFor(t, 10*time.Second, "bad client switched off", func() bool {
		c, err := st.GetClient(context.Background(), "bad")
		return err == nil && !c.Notify
	})
	c, _ := st.GetClient(context.Background(), "bad")
	require.Equal(t, 20, c.NotifyFailures)
	require.False(t, c.NotifyDisabledAt.IsZero())
	require.Contains(t, c.LastNotifyError, "401")
	require.Equal(t, [][]string{{"http://x.example/", "ok", "OK"}}, good.states(), "the good client is served regardless")
	waitFor(t, 2*time.Second, "the disabled mail", func() bool { return len(mb.subjects()) == 3 })
	require.Equal(t, `Notifications of client id "bad" disabled`, mb.subjects()[2])
	require.Contains(t, mb.delivered()[2].Body, "switch notifications")
	n, _ := st.PendingCount(context.Background(), "bad")
	require.Equal(t, 2, n, "nothing pending is dropped")

	// Another fault kind, then the site is repaired and switched on again.
	bad.setMode("fault")
	st.awaitCalls(t, "PendingClients", 3)
	require.Empty(t, bad.got("updateManyStates"), "no pushes while notifications are off")
	bad.setMode("ok")
	require.NoError(t, e.SetNotifications(context.Background(), "bad", true))
	waitFor(t, 5*time.Second, "the backlog", func() bool { return len(bad.states()) == 2 })
	stop()
	require.Equal(t, [][]string{{"http://x.example/", "ok", "OK"}, {"http://y.example/", "unavailable", "Not Found"}}, bad.states())
	c, _ = st.GetClient(context.Background(), "bad")
	require.Zero(t, c.NotifyFailures)
	require.True(t, c.Notify)
}

func TestNotifierReceiverDownThenBack(t *testing.T) {
	t.Parallel()
	st := newCountingStore(memstore.New())
	rcv := newReceiver(t)
	rcv.setMode("down")
	cfg := notifyConfig(nil)
	cfg.NotifyInterval, cfg.NotifyBackoffMax = 10*time.Millisecond, 40*time.Millisecond
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	registerAt(t, e, "site", rcv.srv.URL, "http://a.example/", "http://b.example/")
	stop := runEngine(t, e)
	setState(t, st, "http://a.example/", lms.StateOK, "OK")
	waitFor(t, 5*time.Second, "failures", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return c.NotifyFailures >= 3
	})
	setState(t, st, "http://b.example/", lms.StateUnavailable, "Not Found")
	rcv.setMode("ok")
	waitFor(t, 5*time.Second, "delivery acknowledged", func() bool {
		n, _ := st.PendingCount(context.Background(), "site")
		return len(rcv.states()) == 2 && n == 0
	})
	st.awaitCalls(t, "PendingClients", 3) // nothing is delivered twice meanwhile
	stop()
	require.ElementsMatch(t, [][]string{{"http://a.example/", "ok", "OK"}, {"http://b.example/", "unavailable", "Not Found"}}, rcv.states(), "everything arrives, once per state")
}

func TestNotifierSlowClientDoesNotDelayOthers(t *testing.T) {
	st := memstore.New()
	slow, fast := newReceiver(t), newReceiver(t)
	slow.setMode("hang")
	e, err := lms.New(st, notifyConfig(nil))
	require.NoError(t, err)
	registerAt(t, e, "slow", slow.srv.URL, "http://x.example/")
	registerAt(t, e, "fast", fast.srv.URL, "http://x.example/")
	setState(t, st, "http://x.example/", lms.StateOK, "OK")
	start := time.Now()
	stop := runEngine(t, e)
	waitFor(t, 5*time.Second, "fast delivery", func() bool { return len(fast.states()) == 1 })
	require.Less(t, time.Since(start), 400*time.Millisecond)
	waitFor(t, 5*time.Second, "the hanging call to time out", func() bool {
		c, _ := st.GetClient(context.Background(), "slow")
		return c.NotifyFailures >= 1
	})
	stop()
	c, _ := st.GetClient(context.Background(), "slow")
	require.Regexp(t, "deadline|timeout", c.LastNotifyError)
}

func TestCallbackBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cb := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{Timeout: 2 * time.Second, MaxResponseBytes: 1 << 20})
	ups := []lms.Update{{URL: "http://x/", State: lms.StateOK, Reason: "OK"}}
	rcv := newReceiver(t)
	err := cb.Notify(ctx, lms.Endpoint{ClientID: "a", Password: "b", URL: rcv.srv.URL}, ups)
	require.ErrorIs(t, err, netguard.ErrPolicy, "loopback callbacks refused by default")
	for _, u := range []string{"ftp://x.example/", "javascript:x", "http://"} {
		require.ErrorIs(t, cb.Notify(ctx, lms.Endpoint{URL: u}, ups), lms.ErrInvalid, u)
	}
	allowed := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, Timeout: 2 * time.Second, MaxResponseBytes: 1 << 20})
	rcv.setMode("huge")
	start := time.Now()
	err = allowed.Notify(ctx, lms.Endpoint{ClientID: "a", Password: "b", URL: rcv.srv.URL}, ups)
	require.Error(t, err, "a response over the limit fails")
	require.Less(t, time.Since(start), 2*time.Second)
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }))
	defer loop.Close()
	require.Error(t, allowed.Notify(ctx, lms.Endpoint{ClientID: "a", Password: "b", URL: loop.URL}, ups))
	rcv.setMode("ok")
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "zope" || p != "admin pw" {
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
		rcv.serve(w, r)
	}))
	defer auth.Close()
	withCreds := strings.Replace(auth.URL, "http://", "http://zope:admin%20pw@", 1)
	require.NoError(t, allowed.Notify(ctx, lms.Endpoint{ClientID: "a", Password: "b", URL: withCreds}, ups), "credentials in the callback URL are honoured")
}

func TestSyncer(t *testing.T) {
	t.Parallel()
	st := newCountingStore(memstore.New()) // no Mailer: ListClients starts each round of the syncer
	rcv := newReceiver(t)
	e, err := lms.New(st, notifyConfig(nil))
	require.NoError(t, err)
	registerAt(t, e, "site", rcv.srv.URL, "http://keep.example/", "http://drop.example/")
	setState(t, st, "http://keep.example/", lms.StateOK, "OK")
	rcv.links = []any{"http://keep.example/", "http://new.example/", "http://new.example/", "../junk", "", "http://ex.example/über", "not a url", 42, "http://keep.example/"}
	// Notifications off: no sync even when forced.
	require.NoError(t, e.SetNotifications(context.Background(), "site", false))
	require.NoError(t, e.ForceSync(context.Background(), "site"))
	stop := runEngine(t, e)
	st.awaitCalls(t, "ListClients", 3)
	require.Empty(t, rcv.got("xmlrpc_getAllLinks"), "no sync while notifications are off")
	require.NoError(t, e.SetNotifications(context.Background(), "site", true))
	waitFor(t, 5*time.Second, "the sync", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return !c.LastSync.IsZero()
	})
	stop()
	ls, err := e.ClientLinks(context.Background(), "site", lms.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{"http://keep.example/", "http://new.example/"}, urlsOf(ls))
	c, _ := st.GetClient(context.Background(), "site")
	require.False(t, c.SyncForced)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), c.NextSync, time.Minute)
	// Every state is pushed; unchecked links as unknown/unknown. (The
	// pending change of keep may be delivered by the notifier too.)
	var sync [][]string
	for _, s := range rcv.states() {
		if s[0] == "http://new.example/" || s[1] == "ok" {
			sync = append(sync, s)
		}
	}
	require.Contains(t, sync, []string{"http://new.example/", "unknown", "unknown"})
	require.Contains(t, sync, []string{"http://keep.example/", "ok", "OK"})
}

func TestSyncFailureIsRetriedNextPeriod(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	rcv := newReceiver(t)
	rcv.setMode("fault")
	cfg := notifyConfig(nil)
	cfg.Components = lms.RunSyncer
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	registerAt(t, e, "site", rcv.srv.URL, "http://keep.example/")
	require.NoError(t, e.ForceSync(context.Background(), "site"))
	stop := runEngine(t, e)
	waitFor(t, 5*time.Second, "the failed sync", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return c.LastSyncError != ""
	})
	stop()
	c, _ := st.GetClient(context.Background(), "site")
	require.Contains(t, c.LastSyncError, "ConflictError")
	require.Zero(t, c.NotifyFailures, "a failed sync does not count toward disabling")
	require.True(t, c.Notify)
	require.False(t, c.SyncForced)
	require.True(t, c.NextSync.After(time.Now().Add(23*time.Hour)), "retried at the next period, not at once")
	ls, _ := e.ClientLinks(context.Background(), "site", lms.Page{})
	require.Equal(t, []string{"http://keep.example/"}, urlsOf(ls), "a failed pull changes nothing")
}

func TestNotifierResumesAfterRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lms.db")
	st, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	rcv := newReceiver(t)
	rcv.setMode("401")
	cfg := notifyConfig(nil)
	cfg.Components = lms.RunNotifier
	cfg.NotifyInterval = 10 * time.Millisecond
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	registerAt(t, e, "site", rcv.srv.URL, "http://a.example/")
	setState(t, st, "http://a.example/", lms.StateUnavailable, "Not Found")
	stop := runEngine(t, e)
	waitFor(t, 5*time.Second, "two failures", func() bool {
		c, _ := st.GetClient(context.Background(), "site")
		return c.NotifyFailures >= 2
	})
	stop()
	require.NoError(t, st.Close())

	st, err = boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	defer st.Close()
	c, err := st.GetClient(context.Background(), "site")
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.NotifyFailures, 2, "the failure count survives the restart")
	rcv.setMode("ok")
	e, err = lms.New(st, cfg)
	require.NoError(t, err)
	stop = runEngine(t, e)
	waitFor(t, 5*time.Second, "delivery after restart", func() bool { return len(rcv.states()) == 1 })
	stop()
	require.Equal(t, [][]string{{"http://a.example/", "unavailable", "Not Found"}}, rcv.states())
}

// TestPythonCallbackPeer delivers to and syncs with Python's own
// xmlrpc.server, as a Plone site would answer (2.7 as the real sites, and 3).
func TestPythonCallbackPeer(t *testing.T) {
	type py struct{ bin, version string }
	var peers []py
	if p, err := exec.LookPath("python3"); err == nil {
		peers = append(peers, py{p, ""})
	}
	if p, err := exec.LookPath("python"); err == nil {
		cmd := exec.Command(p, "-c", "import sys; assert sys.version_info[0] == 2")
		cmd.Env = append(os.Environ(), "PYENV_VERSION=2.7.18")
		if cmd.Run() == nil {
			peers = append(peers, py{p, "2.7.18"})
		}
	}
	if len(peers) == 0 {
		t.Skip("no python to act as the client site")
	}
	for _, p := range peers {
		t.Run("python"+p.version, func(t *testing.T) {
			cmd := exec.Command(p.bin, "testdata/callback_receiver.py", "site", "password-site", "http://one.example/", "http://two.example/", "http://two.example/", "junk")
			cmd.Env = os.Environ()
			if p.version != "" {
				cmd.Env = append(cmd.Env, "PYENV_VERSION="+p.version)
			}
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			sc := bufio.NewScanner(out)
			require.True(t, sc.Scan())
			var port int
			_, err = fmt.Sscanf(sc.Text(), "PORT %d", &port)
			require.NoError(t, err)
			lines := make(chan map[string]any, 100)
			go func() {
				for sc.Scan() {
					var m map[string]any
					if json.Unmarshal(sc.Bytes(), &m) == nil {
						lines <- m
					}
				}
			}()
			st := memstore.New()
			e, err := lms.New(st, notifyConfig(nil))
			require.NoError(t, err)
			registerAt(t, e, "site", fmt.Sprintf("http://127.0.0.1:%d/portal_linkchecker/database", port), "http://one.example/", "http://gone.example/")
			setState(t, st, "http://one.example/", lms.StateOK, "OK")
			setState(t, st, "http://gone.example/", lms.StateUnavailable, "Not Found")
			require.NoError(t, e.ForceSync(context.Background(), "site"))
			stop := runEngine(t, e)
			var got []map[string]any
			deadline := time.After(10 * time.Second)
			for len(got) < 3 {
				select {
				case m := <-lines:
					got = append(got, m)
				case <-deadline:
					t.Fatalf("python peer received only %v", got)
				}
			}
			waitFor(t, 5*time.Second, "sync done", func() bool {
				c, _ := st.GetClient(context.Background(), "site")
				return !c.LastSync.IsZero()
			})
			stop()
			methods := map[string]int{}
			var states [][]any
			for _, m := range got {
				methods[m["method"].(string)]++
				if s, ok := m["states"].([]any); ok {
					for _, x := range s {
						states = append(states, x.([]any))
					}
				}
			}
			require.Equal(t, 1, methods["xmlrpc_getAllLinks"])
			require.GreaterOrEqual(t, methods["updateManyStates"], 2)
			require.Contains(t, states, []any{"http://two.example/", "unknown", "unknown"})
			require.Contains(t, states, []any{"http://one.example/", "ok", "OK"})
			ls, _ := e.ClientLinks(context.Background(), "site", lms.Page{})
			require.Equal(t, []string{"http://one.example/", "http://two.example/"}, urlsOf(ls))
		})
	}
}

func urlsOf(ls []lms.Link) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.URL
	}
	return slices.Clip(out)
}

// stuckListener accepts connections and never answers on them, like a
// callback receiver whose site hangs.
func stuckListener(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/portal_linkchecker/database"
}

// stuckRun registers stuck clients whose callbacks accept and never answer
// and one healthy client, then measures how long the healthy client's two
// changes take to arrive (the second while every stuck call still hangs).
// It reports whether any stuck call had timed out by then.
func stuckRun(tb testing.TB, stuck int) (first, second time.Duration, timedOut bool) {
	st := memstore.New()
	cfg := notifyConfig(nil)
	cfg.Notifier = xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, Timeout: 5 * time.Second})
	cfg.Components = lms.RunNotifier
	e, err := lms.New(st, cfg)
	require.NoError(tb, err)
	for i := range stuck { // generated passwords: no bcrypt, a fast set-up
		id := fmt.Sprintf("stuck%03d", i)
		_, err := e.RegisterClient(context.Background(), adminSecret, lms.Registration{ID: id, ContactEmail: id + "@example.org", CallbackURL: stuckListener(tb)})
		require.NoError(tb, err)
		_, err = e.RegisterURLs(context.Background(), id, []string{"http://shared.example/"})
		require.NoError(tb, err)
	}
	good := newReceiver(tb)
	_, err = e.RegisterClient(context.Background(), adminSecret, lms.Registration{ID: "zz-healthy", ContactEmail: "h@example.org", CallbackURL: good.srv.URL})
	require.NoError(tb, err)
	_, err = e.RegisterURLs(context.Background(), "zz-healthy", []string{"http://shared.example/", "http://own.example/"})
	require.NoError(tb, err)
	setState(tb, st, "http://shared.example/", lms.StateOK, "OK")
	stop := runEngine(tb, e)
	defer stop()
	start := time.Now()
	waitFor(tb, 4*time.Second, "the healthy client's first push", func() bool { return len(good.got("updateManyStates")) >= 1 })
	first = time.Since(start)
	setState(tb, st, "http://own.example/", lms.StateUnavailable, "Not Found")
	start = time.Now()
	waitFor(tb, 4*time.Second, "the healthy client's second push", func() bool { return len(good.got("updateManyStates")) >= 2 })
	second = time.Since(start)
	s, err := e.Stats(context.Background())
	require.NoError(tb, err)
	return first, second, s.NotifyFailures > 0
}

// 100 clients whose callbacks accept and never answer do not hold up a
// healthy client: its changes arrive while every stuck call still hangs.
func TestStuckClientsDoNotDelayHealthyOnes(t *testing.T) {
	first, second, timedOut := stuckRun(t, 100)
	t.Logf("healthy client notified after %v and %v with 100 stuck clients", first, second)
	require.False(t, timedOut, "no stuck call has timed out yet: the healthy pushes did not wait for them")
}

// BenchmarkStuckClients compares a healthy client's notification delay
// with 100 stuck clients to the delay without them (issue 14: at most 2×).
func BenchmarkStuckClients(b *testing.B) {
	for range b.N {
		f0, s0, _ := stuckRun(b, 0)
		f1, s1, _ := stuckRun(b, 100)
		b.ReportMetric(float64((f0 + s0).Milliseconds()), "ms-alone")
		b.ReportMetric(float64((f1 + s1).Milliseconds()), "ms-with-100-stuck")
		b.ReportMetric(float64(f1+s1)/float64(f0+s0), "ratio")
	}
}

// A link list over the callback client's cap fails the sync without
// changing any subscription, and mails the contact once per run of such
// failures; a successful sync ends the run.
func TestSyncOfTooLargeListMailsTheContactOnce(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	rcv := newReceiver(t)
	mb := &flakyMailer{}
	cfg := notifyConfig(mb)
	cfg.Components = lms.RunNotifier | lms.RunSyncer
	cb := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, Timeout: 500 * time.Millisecond, MaxLinks: 3})
	cfg.Notifier, cfg.Lister = cb, cb
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	registerAt(t, e, "site", rcv.srv.URL, "http://keep.example/")
	rcv.links = []any{"http://a.example/", "http://b.example/", "http://c.example/", "http://d.example/"}
	stop := runEngine(t, e)
	defer stop()
	ctx := context.Background()
	syncs := func() int { return len(rcv.got("xmlrpc_getAllLinks")) }
	forceAndWait := func(what string) {
		t.Helper()
		n := syncs()
		require.NoError(t, e.ForceSync(ctx, "site"))
		waitFor(t, 5*time.Second, what, func() bool {
			c, _ := st.GetClient(ctx, "site")
			return syncs() > n && !c.SyncForced
		})
	}
	forceAndWait("the first sync")
	waitFor(t, 5*time.Second, "the mail to the contact", func() bool { return len(mb.subjects()) == 2 })
	m := mb.delivered()[1]
	require.Equal(t, `Link list of client id "site" too large to synchronise`, m.Subject)
	require.Equal(t, "site@example.org", m.To[0].Address)
	require.Contains(t, m.Body, "Nothing was removed")
	require.Contains(t, m.Body, "more than 3")
	c, _ := st.GetClient(ctx, "site")
	require.Contains(t, c.LastSyncError, "more than 3")
	require.True(t, c.SyncTooLargeMailed)
	ls, _ := e.ClientLinks(ctx, "site", lms.Page{})
	require.Equal(t, []string{"http://keep.example/"}, urlsOf(ls), "a list over the cap changes nothing")

	forceAndWait("the second sync")
	// A mail would be queued by the sync's own record: still in the
	// outbox, or delivered already.
	c, _ = st.GetClient(ctx, "site")
	require.Empty(t, c.Outbox, "one mail per run of failures")
	require.Len(t, mb.subjects(), 2, "one mail per run of failures")

	rcv.links = []any{"http://a.example/"}
	forceAndWait("a good sync")
	c, _ = st.GetClient(ctx, "site")
	require.False(t, c.SyncTooLargeMailed)
	require.Empty(t, c.LastSyncError)
	rcv.links = []any{"http://a.example/", "http://b.example/", "http://c.example/", "http://d.example/"}
	forceAndWait("a sync over the cap again")
	waitFor(t, 5*time.Second, "a new mail", func() bool { return len(mb.subjects()) == 3 })
}

// pendingFaults is a store whose PendingCount or PendingUpdates fail on
// demand.
type pendingFaults struct {
	lms.Store
	failCount, failUpdates atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *pendingFaults) PendingCount(ctx context.Context, id string) (int, error) {
	if s.failCount.Load() {
		return 0, errStoreDown
	}
	return s.Store.PendingCount(ctx, id)
}

func (s *pendingFaults) PendingUpdates(ctx context.Context, id string, limit int) ([]lms.PendingUpdate, error) {
	if s.failUpdates.Load() {
		return nil, errStoreDown
	}
	return s.Store.PendingUpdates(ctx, id, limit)
}

// errorLog is a slog handler that passes each error record's message to a
// channel (dropping it when the channel is full).
type errorLog chan string

func (errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h errorLog) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}
	return nil
}
func (h errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h errorLog) WithGroup(string) slog.Handler      { return h }

// A store error while reading a client's pending updates is logged, and the
// round is recorded neither as delivered nor as the client's failure; once
// the store answers, the updates go out.
func TestNotifierStoreErrorIsNoSuccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		msg  string
		fail func(*pendingFaults) *atomic.Bool
	}{
		{"PendingCount", "counting pending updates", func(s *pendingFaults) *atomic.Bool { return &s.failCount }},
		{"PendingUpdates", "reading pending updates", func(s *pendingFaults) *atomic.Bool { return &s.failUpdates }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &pendingFaults{Store: memstore.New()}
			fail := tc.fail(st)
			fail.Store(true)
			rcv := newReceiver(t)
			logs := make(errorLog, 16)
			cfg := notifyConfig(nil)
			cfg.Components, cfg.Logger = lms.RunNotifier, slog.New(logs)
			e, err := lms.New(st, cfg)
			require.NoError(t, err)
			registerAt(t, e, "site", rcv.srv.URL+"/portal_linkchecker/database", "http://a.example/")
			setState(t, st, "http://a.example/", lms.StateOK, "OK")
			stop := runEngine(t, e)
			select {
			case msg := <-logs:
				require.Equal(t, tc.msg, msg)
			case <-time.After(10 * time.Second):
				t.Fatal("no error logged")
			}
			// Rounds keep failing; none of them is recorded.
			for range 2 {
				select {
				case <-logs:
				case <-time.After(10 * time.Second):
					t.Fatal("the failing rounds stopped")
				}
			}
			c, err := st.GetClient(context.Background(), "site")
			require.NoError(t, err)
			require.True(t, c.LastNotified.IsZero(), "a failed round recorded as delivered")
			require.Zero(t, c.NotifyFailures, "a store error counted as the client's failure")
			require.Empty(t, c.LastNotifyError)
			n, err := st.Store.PendingCount(context.Background(), "site")
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Empty(t, rcv.got("updateManyStates"))
			fail.Store(false)
			waitFor(t, 5*time.Second, "the update delivered", func() bool {
				n, _ := st.Store.PendingCount(context.Background(), "site")
				return n == 0
			})
			stop()
			c, err = st.GetClient(context.Background(), "site")
			require.NoError(t, err)
			require.False(t, c.LastNotified.IsZero())
			require.Len(t, rcv.got("updateManyStates"), 1)
		})
	}
}
