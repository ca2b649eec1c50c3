package xmlrpcapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
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
	pw      string // of gID and "other": generated (SHA-256, not bcrypt: fast)
	s       *Server
	srv     *httptest.Server
	store   *countingStore
	e       *lms.Engine
	arrived chan struct{} // a request reached the handler
}

func newGuarded(t *testing.T, cfg ServerConfig) *guarded {
	t.Helper()
	return newGuardedReadTimeout(t, cfg, time.Minute)
}

// newGuardedReadTimeout is newGuarded with the server's ReadTimeout rt.
func newGuardedReadTimeout(t *testing.T, cfg ServerConfig, rt time.Duration) *guarded {
	t.Helper()
	st := &countingStore{Store: memstore.New()}
	e, err := lms.New(st, lms.Config{AdminSecret: gSecret, Components: lms.RunChecker})
	require.NoError(t, err)
	pw, err := e.RegisterClient(context.Background(), gSecret, lms.Registration{ID: gID, ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	_, err = e.RegisterClient(context.Background(), gSecret, lms.Registration{ID: "other", ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	s := NewServer(e, cfg)
	arrived := make(chan struct{}, 1024)
	// Served as lmsd serves it: the attacks hold their connections until
	// these timeouts.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		s.ServeHTTP(w, r)
	}))
	srv.Config.ReadHeaderTimeout, srv.Config.ReadTimeout = 10*time.Second, rt
	srv.Start()
	t.Cleanup(srv.Close)
	return &guarded{pw: pw, s: s, srv: srv, store: st, e: e, arrived: arrived}
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
// one (from another address) waits and gets 503; small calls are not
// queued behind them. An authenticated call holds its whole declared
// body from when its credentials are checked.
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
	// Wait until the server holds the budget (the credentials were read).
	require.Eventually(t, func() bool {
		return !g.s.guard.Large.Sem.TryAcquire(1) || func() bool { g.s.guard.Large.Sem.Release(1); return false }()
	},
		5*time.Second, time.Millisecond)

	big := bytes.Repeat([]byte(" "), smallBody+1)
	start := time.Now()
	resp, err := clientFrom("127.0.0.2").Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a second large body while the budget is held")
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "answered before DecodeWait")

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
	require.LessOrEqual(t, g.s.guard.Throttle.IDs.Len(), 20)
	require.LessOrEqual(t, g.s.guard.Throttle.Addrs.Len(), 20)
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
	// Every further guess on the kept-alive connection is held too (a
	// refused call's drain must not end the hold early).
	start = time.Now()
	for i := range 4 {
		status, _ = g.post(t, "checkConnection", gID, fmt.Sprintf("guess-%d", i+3))
		require.Equal(t, http.StatusTooManyRequests, status)
	}
	require.GreaterOrEqual(t, time.Since(start), 4*300*time.Millisecond)
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
	// The legitimate client works on until the guessing has been
	// throttled (the guessers' failures are spent), 50 calls at least.
	throttled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return answers[http.StatusTooManyRequests] > 0
	}
	for i := 0; i < 50 || !throttled() && i < 5000; i++ {
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

// clientFrom returns an HTTP client whose connections come from ip, a
// loopback address: another host than the attackers on 127.0.0.1, with
// a timeout well under the 10 s of DecodeWait.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 3 * time.Second}
}

// stall opens n connections from 127.0.0.1 that each send head (the
// request's header and the start of its body) and then nothing, and
// returns once the server has read every header. The connections are
// closed at the end of the test.
func (g *guarded) stall(t *testing.T, n int, head string) []net.Conn {
	t.Helper()
	for len(g.arrived) > 0 {
		<-g.arrived
	}
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", g.srv.Listener.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, head)
		require.NoError(t, err)
		conns[i] = c
	}
	timeout := time.After(10 * time.Second)
	for i := range n {
		select {
		case <-g.arrived:
		case <-timeout:
			t.Fatalf("%d of %d stalled requests reached the handler", i, n)
		}
	}
	return conns
}

// legit makes calls from 127.0.0.2 that must all be answered 200 OK
// promptly, and returns the slowest.
func (g *guarded) legit(t *testing.T, n int, method string, params ...any) time.Duration {
	t.Helper()
	body, err := EncodeCall(method, params...)
	require.NoError(t, err)
	c := clientFrom("127.0.0.2")
	var slowest time.Duration
	for i := range n {
		start := time.Now()
		resp, err := c.Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(body))
		require.NoError(t, err, "legitimate %s %d of %d", method, i+1, n)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "legitimate %s %d: %s", method, i+1, b)
		require.NotContains(t, string(b), "faultCode", method)
		slowest = max(slowest, time.Since(start))
	}
	return slowest
}

// TestIdleConnectionsHoldNoBudget: connections that declare a body and
// send (almost) nothing of it hold no decoding budget. 130 that declare
// 64 KiB and send the XML declaration used to hold all of the small
// budget (128 × 64 KiB), 2 chunked ones all of the large one (2 × 16
// MiB), so that another host's calls waited 10 s for 503.
func TestIdleConnectionsHoldNoBudget(t *testing.T) {
	t.Run("declared", func(t *testing.T) {
		g := newGuarded(t, ServerConfig{})
		g.stall(t, 130, "POST /RPC2 HTTP/1.1\r\nHost: lms\r\nContent-Type: text/xml\r\nContent-Length: 65536\r\n\r\n<?xml version=\"1.0\"?>\n")
		slowest := g.legit(t, 5, "checkConnection", gID, g.pw)
		t.Logf("slowest checkConnection beside 130 idle connections: %v", slowest)
		require.Less(t, slowest, 2*time.Second)
	})
	t.Run("chunked", func(t *testing.T) {
		g := newGuarded(t, ServerConfig{})
		g.stall(t, 2, "POST /RPC2 HTTP/1.1\r\nHost: lms\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
		urls := make([]string, 3000)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://site.example/some/page/path/%06d", i)
		}
		body, err := EncodeCall("registerURLs", gID, g.pw, urls)
		require.NoError(t, err)
		require.Greater(t, len(body), 180<<10)
		slowest := g.legit(t, 3, "registerURLs", gID, g.pw, urls)
		t.Logf("slowest registerURLs of %d KiB beside 2 idle chunked connections: %v", len(body)>>10, slowest)
		require.Less(t, slowest, 2*time.Second)
	})
}

// requireBudgetsFree waits until the budgets are whole again: nothing
// leaked once every request has ended.
func (g *guarded) requireBudgetsFree(t *testing.T) {
	t.Helper()
	for _, b := range []*guard.Budget{g.s.guard.Small, g.s.guard.Large} {
		require.Eventually(t, b.Idle, 5*time.Second, time.Millisecond, "budget not returned")
	}
}

// readStatus reads the status line of the answer on c.
func readStatus(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err, "no answer")
	return strings.TrimSpace(line)
}

// TestAddressShare: one source address that sends bodies slowly holds at
// most its share of a budget (not all of it, which would make other
// addresses wait 10 s for 503); its next request is answered 503 at once,
// while another address is served as before.
func TestAddressShare(t *testing.T) {
	// Small budget 1 MiB, of which one address may hold 256 KiB.
	g := newGuarded(t, ServerConfig{MaxBodyBytes: 1 << 20, MaxDecodingBytes: 4 << 20})
	require.Equal(t, int64(256<<10), g.s.guard.Small.PerAddr)
	// 20 multicalls (no credentials to check) of 64 KiB from 127.0.0.1
	// each send 60 KiB and stall: 1.2 MiB.
	head := "<?xml version=\"1.0\"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data><value><string>"
	stalled := "POST /RPC2 HTTP/1.1\r\nHost: lms\r\nContent-Type: text/xml\r\nContent-Length: 65536\r\n\r\n" + head + strings.Repeat("s", 60<<10-len(head))
	g.stall(t, 20, stalled)
	// The server has read what the share allows: as many whole 60 KiB
	// stalls as fit (those refused give their part back).
	require.Eventually(t, func() bool { return g.s.guard.Small.Held("127.0.0.1") > g.s.guard.Small.PerAddr-64<<10 }, 5*time.Second, time.Millisecond)
	require.LessOrEqual(t, g.s.guard.Small.Held("127.0.0.1"), g.s.guard.Small.PerAddr)

	calls := make([]any, 0, 300)
	for len(calls) < cap(calls) {
		calls = append(calls, map[string]any{"methodName": "getInfoFrameURL", "params": []any{}})
	}
	multi, err := EncodeCall("system.multicall", calls)
	require.NoError(t, err)
	require.Greater(t, len(multi), 32<<10)
	require.LessOrEqual(t, len(multi), smallBody)
	for i := range 10 {
		start := time.Now()
		resp, err := http.Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(multi))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "request %d from the address holding its share", i)
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		require.Less(t, time.Since(start), time.Second, "a 503 after a wait")
	}
	slowest := g.legit(t, 5, "system.multicall", calls)
	t.Logf("slowest multicall of %d KiB from another address: %v", len(multi)>>10, slowest)
	require.Less(t, slowest, 2*time.Second)
}

// TestCredentialsTimeout: a request that has not delivered its method name
// and credentials (all of a call without them) within CredentialsTimeout
// is answered 408 and its connection closed; once the credentials are
// checked, the rest of the body may take its time; the budget is whole
// again afterwards.
func TestCredentialsTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	g := newGuarded(t, ServerConfig{CredentialsTimeout: timeout})
	header := "POST /RPC2 HTTP/1.1\r\nHost: lms\r\nContent-Type: text/xml\r\nContent-Length: 200000\r\n\r\n"
	for name, head := range map[string]string{
		"declaration":         `<?xml version="1.0"?>`,
		"half the password":   `<methodCall><methodName>checkConnection</methodName><params><param><value>` + gID + `</value></param><param><value>` + g.pw[:5],
		"a stalled multicall": `<methodCall><methodName>system.multicall</methodName><params><param><value><array><data>`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			c := g.stall(t, 1, header+head)[0]
			require.Equal(t, "HTTP/1.1 408 Request Timeout", readStatus(t, c))
			took := time.Since(start)
			require.GreaterOrEqual(t, took, timeout)
			require.Less(t, took, 3*time.Second)
			_, err := io.Copy(io.Discard, c)
			require.NoError(t, err, "the connection is closed after the answer")
		})
	}

	// Credentials at once, the rest after the deadline: answered.
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, g.srv.URL+"/RPC2", pr)
	require.NoError(t, err)
	go func() {
		head := `<methodCall><methodName>registerURLs</methodName><params><param><value>` + gID + `</value></param><param><value>` + g.pw + `</value></param>`
		if _, err := io.WriteString(pw, head); err != nil {
			return
		}
		<-time.After(3 * timeout) // the deadline passes
		_, err := io.WriteString(pw, `<param><value><array><data><value>http://slow.example/</value></data></array></value></param></params></methodCall>`)
		pw.CloseWithError(err)
	}()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	require.NotContains(t, string(b), "faultCode")
	g.requireBudgetsFree(t)
}

// TestCredentialsTimeoutWait: a wait for the decoding budget is the
// server's time, not the client's: a call that waits longer than
// CredentialsTimeout for it is answered, not cut off.
func TestCredentialsTimeoutWait(t *testing.T) {
	const timeout = 200 * time.Millisecond
	g := newGuarded(t, ServerConfig{MaxBodyBytes: 1 << 20, MaxDecodingBytes: 1 << 20, CredentialsTimeout: timeout})
	// An authenticated call of 1 MiB holds all of the large budget
	// until the rest of its body comes.
	head := `<methodCall><methodName>registerURLs</methodName><params><param><value>` + gID + `</value></param><param><value>` + g.pw + `</value></param><param><value><array><data>`
	tail := `</data></array></value></param></params></methodCall>`
	pr, pw := io.Pipe()
	defer pw.Close()
	holder, err := http.NewRequest(http.MethodPost, g.srv.URL+"/RPC2", pr)
	require.NoError(t, err)
	holder.ContentLength = 1 << 20
	held := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(holder)
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	_, err = io.WriteString(pw, head)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return g.s.guard.Large.Held("127.0.0.1") == 1<<20 }, 5*time.Second, time.Millisecond)

	// Another host's call over 64 KiB waits for the budget.
	for len(g.arrived) > 0 {
		<-g.arrived
	}
	urls := make([]string, 2000)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://waiting.example/%06d", i)
	}
	body, err := EncodeCall("registerURLs", gID, g.pw, urls)
	require.NoError(t, err)
	require.Greater(t, len(body), smallBody)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := clientFrom("127.0.0.2").Post(g.srv.URL+"/RPC2", "text/xml", bytes.NewReader(body))
		if err != nil {
			t.Error(err)
		}
		answered <- resp
	}()
	<-g.arrived
	<-time.After(3 * timeout) // the deadline would pass while it waits
	_, err = io.WriteString(pw, strings.Repeat(" ", 1<<20-len(head)-len(tail))+tail)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, <-held)
	resp := <-answered
	require.NotNil(t, resp)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "a call cut off while the server made it wait")
	g.requireBudgetsFree(t)
}
