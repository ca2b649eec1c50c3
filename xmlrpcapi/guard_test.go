package xmlrpcapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/testkit"
	"github.com/linkmonitor/lms/memstore"
)

const (
	gSecret = "guard-admin-secret"
	gID     = "site"
)

// countingStore counts GetClient calls: Authenticate makes one, a call
// refused by a throttle none.
type countingStore struct {
	lms.Store
	gets atomic.Int64
}

func (c *countingStore) GetClient(ctx context.Context, id string) (lms.Client, error) {
	c.gets.Add(1)
	return c.Store.GetClient(ctx, id)
}

type guarded struct {
	pw    string // of gID and "other": generated (SHA-256, not bcrypt: fast)
	s     *Server
	srv   *httptest.Server
	store *countingStore
	e     *lms.Engine
}

func newGuarded(t *testing.T, cfg ServerConfig) *guarded {
	t.Helper()
	st := &countingStore{Store: memstore.New()}
	e, err := lms.New(st, lms.Config{AdminSecret: gSecret, Components: lms.RunChecker})
	require.NoError(t, err)
	pw, err := e.RegisterClient(context.Background(), gSecret, lms.Registration{ID: gID, ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	_, err = e.RegisterClient(context.Background(), gSecret, lms.Registration{ID: "other", ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	s := NewServer(e, cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &guarded{pw: pw, s: s, srv: srv, store: st, e: e}
}

func (g *guarded) post(t *testing.T, method string, params ...any) (int, string) {
	t.Helper()
	body, err := EncodeCall(method, params...)
	require.NoError(t, err)
	resp, err := http.Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestCredentialsBeforeBody: a call with wrong credentials is answered 401
// while its body is still being sent; the rest is never decoded.
func TestCredentialsBeforeBody(t *testing.T) {
	g := newGuarded(t, ServerConfig{})
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, g.srv.URL+"/RPC2", pr)
	require.NoError(t, err)
	req.ContentLength = 8 << 20
	answered := make(chan struct{})
	go func() {
		defer pw.Close()
		head := `<?xml version="1.0"?><methodCall><methodName>registerURLs</methodName><params>` +
			`<param><value><string>` + gID + `</string></value></param><param><value><string>wrong</string></value></param>` +
			`<param><value><array><data>`
		if _, err := io.WriteString(pw, head); err != nil {
			return
		}
		elem := []byte(strings.Repeat("<value>http://x.example/</value>", 100))
		for {
			select {
			case <-answered:
				return
			case <-time.After(time.Millisecond):
			}
			if _, err := pw.Write(elem); err != nil {
				return
			}
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	close(answered)
	require.NoError(t, err, "no answer before the body ended")
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestDecodingBudget: while large bodies hold the budget, another large
// one waits and gets 503; small calls are not queued behind them.
func TestDecodingBudget(t *testing.T) {
	g := newGuarded(t, ServerConfig{MaxBodyBytes: 1 << 20, MaxDecodingBytes: 1 << 20, DecodeWait: 200 * time.Millisecond})
	// A large, authenticated call whose body trickles in holds 1 MiB.
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, g.srv.URL+"/RPC2", pr)
	require.NoError(t, err)
	req.ContentLength = 1 << 20
	held := make(chan struct{})
	go func() {
		head := `<methodCall><methodName>registerURLs</methodName><params>` +
			`<param><value>` + gID + `</value></param><param><value>` + g.pw + `</value></param><param><value><array><data>`
		if _, err := io.WriteString(pw, head); err == nil {
			close(held)
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-held
	// Wait until the server holds the budget (the first bytes were read).
	require.Eventually(t, func() bool { return !g.s.large.TryAcquire(1) || func() bool { g.s.large.Release(1); return false }() },
		5*time.Second, time.Millisecond)

	big := bytes.Repeat([]byte(" "), smallBody+1)
	resp, err := http.Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a second large body while the budget is held")
	require.Equal(t, "1", resp.Header.Get("Retry-After"))

	// Drawing from the held large budget, it would get 503 too.
	status, body := g.post(t, "checkConnection", gID, g.pw)
	require.Equal(t, http.StatusOK, status, "a small call queued behind a large one: %s", body)
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done
}

func TestMaxURLs(t *testing.T) {
	g := newGuarded(t, ServerConfig{MaxURLs: 5})
	urls := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("http://u%d.example/", i)
		}
		return out
	}
	for _, m := range []string{"registerURLs", "unregisterURLs", "getURLStates"} {
		status, body := g.post(t, m, gID, g.pw, urls(5))
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, "faultCode", "%s with MaxURLs URLs", m)
		_, body = g.post(t, m, gID, g.pw, urls(6))
		require.Contains(t, body, "<int>-32602</int>", "%s with MaxURLs+1 URLs", m)
		require.Contains(t, body, "at most 5 URLs per call", m)
	}
	calls := make([]any, 1001)
	for i := range calls {
		calls[i] = map[string]any{"methodName": "getInfoFrameURL", "params": []any{}}
	}
	_, body := g.post(t, "system.multicall", calls)
	require.Contains(t, body, "<int>-32602</int>", "more than MaxCalls calls")
}

// TestThrottle: failures per client id are throttled without checking the
// credentials; a client whose credentials worked before still passes;
// system.multicall counts every inner call; the admin secret is throttled
// the same way.
func TestThrottle(t *testing.T) {
	g := newGuarded(t, ServerConfig{Throttle: Throttle{IDBurst: 3, IDEvery: time.Hour, AddrBurst: 1000, Delay: -1}})
	status, _ := g.post(t, "checkConnection", gID, g.pw)
	require.Equal(t, http.StatusOK, status)
	for i := range 3 {
		status, _ := g.post(t, "checkConnection", gID, fmt.Sprint("guess", i))
		require.Equal(t, http.StatusUnauthorized, status, "failure %d", i+1)
	}
	gets := g.store.gets.Load()
	body, err := EncodeCall("checkConnection", gID, "guess-4")
	require.NoError(t, err)
	resp, err := http.Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "3600", resp.Header.Get("Retry-After"), "Retry-After: IDEvery")
	require.Equal(t, gets, g.store.gets.Load(), "a throttled guess was checked")
	status, _ = g.post(t, "registerURLs", gID, g.pw, []string{"http://a.example/"})
	require.Equal(t, http.StatusOK, status, "the client's own good password is refused while its id is guessed")

	// system.multicall: every inner guess counts, at the same id "other".
	calls := make([]any, 5)
	for i := range calls {
		calls[i] = map[string]any{"methodName": "checkConnection", "params": []any{"other", fmt.Sprint("multi", i)}}
	}
	status, answer := g.post(t, "system.multicall", calls)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 3, strings.Count(answer, "<int>401</int>"), answer)
	require.Equal(t, 2, strings.Count(answer, "<int>429</int>"), answer)
	status, _ = g.post(t, "checkConnection", "other", "once-more")
	require.Equal(t, http.StatusTooManyRequests, status)

	// The admin secret: one key for every management call.
	status, _ = g.post(t, "listClients", gSecret)
	require.Equal(t, http.StatusOK, status)
	for i := range 3 {
		status, _ := g.post(t, "listClients", fmt.Sprint("not-the-secret", i))
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ = g.post(t, "registerClient", "not-the-secret", "c9", "http://c9.example/", "N", "n@c9.example")
	require.Equal(t, http.StatusTooManyRequests, status)
	status, _ = g.post(t, "removeClient", "not-the-secret", gID)
	require.Equal(t, http.StatusTooManyRequests, status)
	status, _ = g.post(t, "listClients", gSecret)
	require.Equal(t, http.StatusOK, status, "the admin secret that worked before is refused")

	// Credentials longer than any that exist fail without being checked.
	gets = g.store.gets.Load()
	status, _ = g.post(t, "checkConnection", strings.Repeat("i", 10_000), "pw")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = g.post(t, "checkConnection", "fresh-id", strings.Repeat("p", 10_000))
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, gets, g.store.gets.Load(), "an over-long credential was checked")
}

// TestThrottleAddress: failures from one address with ever new ids are
// throttled per address; the limiter tables stay bounded.
func TestThrottleAddress(t *testing.T) {
	g := newGuarded(t, ServerConfig{Throttle: Throttle{AddrBurst: 5, AddrEvery: time.Hour, MaxKeys: 20, Delay: -1}})
	for i := range 5 {
		status, _ := g.post(t, "checkConnection", fmt.Sprint("unknown-", i), "pw")
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ := g.post(t, "checkConnection", "unknown-new", "pw")
	require.Equal(t, http.StatusTooManyRequests, status)
	calls := make([]any, 200)
	for i := range calls {
		calls[i] = map[string]any{"methodName": "checkConnection", "params": []any{fmt.Sprint("flood-", i), "pw"}}
	}
	_, body := g.post(t, "system.multicall", calls)
	require.Equal(t, 200, strings.Count(body, "<int>429</int>"))
	require.LessOrEqual(t, g.s.ids.Len(), 20)
	require.LessOrEqual(t, g.s.addrs.Len(), 20)
}

// TestThrottleDelay: a throttled answer is held for Throttle.Delay.
func TestThrottleDelay(t *testing.T) {
	g := newGuarded(t, ServerConfig{Throttle: Throttle{IDBurst: 1, IDEvery: time.Hour, Delay: 300 * time.Millisecond}})
	status, _ := g.post(t, "checkConnection", gID, "guess")
	require.Equal(t, http.StatusUnauthorized, status)
	start := time.Now()
	status, _ = g.post(t, "checkConnection", gID, "guess-2")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}

// TestConcurrentAttack runs real concurrent attackers (large
// unauthenticated bodies, password guessers) against a real server while a
// legitimate client works: every legitimate call succeeds, every attack
// gets 401, 429 or 503, never a decoded fault.
func TestConcurrentAttack(t *testing.T) {
	g := newGuarded(t, ServerConfig{MaxDecodingBytes: 16 << 20, Throttle: Throttle{Delay: 50 * time.Millisecond},
		// The legitimate client comes from another address than the attackers.
		RemoteAddr: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }})
	status, _ := g.post(t, "checkConnection", gID, g.pw)
	require.Equal(t, http.StatusOK, status)
	urls := make([]any, 30_000) // about 1 MiB
	for i := range urls {
		urls[i] = fmt.Sprintf("http://a.example/%d", i)
	}
	bigReg, err := EncodeCall("registerURLs", gID, "wrong", urls)
	require.NoError(t, err)
	calls := []any{map[string]any{"methodName": "registerURLs", "params": []any{"nobody", "x", urls}}}
	bigMulti, err := EncodeCall("system.multicall", calls)
	require.NoError(t, err)
	guess, err := EncodeCall("checkConnection", gID, "guess")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[int]int{}
	attack := func(body []byte) {
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.srv.URL+"/RPC2", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("X-Test-Client", "attacker")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue // cancelled, or cut off while sending
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("<int>-1</int>")) {
				t.Errorf("an attack was decoded and run: %.200s", b)
			}
			mu.Lock()
			answers[resp.StatusCode]++
			mu.Unlock()
		}
	}
	for i := range 4 {
		body := bigReg
		if i%2 == 1 {
			body = bigMulti
		}
		wg.Go(func() { attack(body) })
	}
	for range 4 {
		wg.Go(func() { attack(guess) })
	}
	for i := range 50 {
		body, err := EncodeCall("registerURLs", gID, g.pw, []string{fmt.Sprintf("http://legit.example/%d", i)})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, g.srv.URL+"/RPC2", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Test-Client", "legit")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "legitimate call %d", i)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("attack answers by status: %v", answers)
	for status := range answers {
		require.Contains(t, []int{http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable}, status)
	}
	require.Positive(t, answers[http.StatusTooManyRequests], "the guessing was not throttled")
}

// TestLogHygiene: failure lines carry no credentials of callback URLs, cut
// request values at 200 bytes, and repeated failures are counted, not
// repeated.
func TestLogHygiene(t *testing.T) {
	var buf testkit.SyncBuffer
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	g := newGuarded(t, ServerConfig{
		Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Now:    func() time.Time { return time.Unix(0, clock.Load()) },
	})
	g.post(t, "registerClient", gSecret, "c2", "ftp://user:hunter2@c2.example/db", "N", "n@c2.example")
	g.post(t, strings.Repeat("m", 10_000), gID, g.pw)
	// A malformed call whose parse error quotes the password.
	resp, err := http.Post(g.srv.URL+"/RPC2", "text/xml", strings.NewReader(
		`<methodCall><methodName>checkConnection</methodName><params><param><value>site</value></param>`+g.pw+`</params></methodCall>`))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(b), "-32700")
	require.Contains(t, string(b), g.pw, "the client sees its own document quoted")
	for range 20 {
		g.post(t, "checkConnection", gID, g.pw, "one argument too many")
	}
	clock.Add(int64(2 * time.Minute))
	g.post(t, "checkConnection", gID, g.pw, "one argument too many")
	out := buf.String()
	require.NotContains(t, out, "hunter2")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		require.Less(t, len(line), 1000, "a long line: %.300s", line)
	}
	require.Equal(t, 6, strings.Count(out, "method=checkConnection status=200 fault=-32602"), out)
	require.Contains(t, out, "suppressed=15")
	require.NotContains(t, out, g.pw)
}
