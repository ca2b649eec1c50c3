package xmlrpcapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRedteamRefusedCallHoldsBudgetWhileDrained (a red team's finding): a
// call whose credentials are refused is drained before its answer is
// written, so that a client still sending gets the answer. The drain held
// the meter's budget, without a deadline: peers on 4 addresses that each
// sent all but the last byte of 64 KiB bodies held the whole small budget
// until the server's ReadTimeout (lmsd: 1 min), and every other client got
// 503. Now the refused call gives its budget back before the drain, and the
// drain has drainTime.
func TestRedteamRefusedCallHoldsBudgetWhileDrained(t *testing.T) {
	// Small budget 1 MiB, 256 KiB per address.
	g := newGuarded(t, ServerConfig{MaxBodyBytes: 1 << 20, MaxDecodingBytes: 4 << 20})
	require.Equal(t, int64(256<<10), g.s.guard.Small.PerAddr)
	const length = 64 << 10
	head := "<?xml version=\"1.0\"?><methodCall><methodName>checkConnection</methodName><params><param><value><string>nosuch</string></value></param><param><value><string>"
	tail := "</string></value></param></params></methodCall>"
	body := head + strings.Repeat("x", length-len(head)-len(tail)) + tail
	req := fmt.Sprintf("POST /RPC2 HTTP/1.1\r\nHost: lms\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n", length) + body[:length-1]
	var conns []net.Conn
	for a := 1; a <= 4; a++ {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(a))}}
		for range 4 {
			c, err := d.Dial("tcp", g.srv.Listener.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			conns = append(conns, c)
			_, err = io.WriteString(c, req)
			require.NoError(t, err)
		}
	}
	// The legitimate client is answered at once, though 16 stalled calls
	// of 64 KiB from 4 addresses were refused and are being drained.
	slowest := g.legit(t, 3, "checkConnection", gID, g.pw)
	t.Logf("slowest checkConnection beside 16 refused, draining calls: %v", slowest)
	require.Less(t, slowest, 2*time.Second)
	// Each stalled call gets its 401 once the drain's time is up, and
	// holds nothing.
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(3*drainTime)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	for a := 1; a <= 4; a++ {
		require.Zero(t, g.s.guard.Small.Held(fmt.Sprintf("127.0.1.%d", a)))
	}
}

// TestRedteamSlowBodyAfterCredentials (a red team's finding): an
// authenticated call whose body does not arrive within the server's
// ReadTimeout was answered with a parse error naming the connection's
// addresses ("read tcp 127.0.0.1:…->…: i/o timeout"). It is HTTP 408 now,
// and no transport text reaches the client.
func TestRedteamSlowBodyAfterCredentials(t *testing.T) {
	g := newGuardedReadTimeout(t, ServerConfig{}, 500*time.Millisecond)
	full, err := EncodeCall("registerURLs", gID, g.pw, []string{"http://a.example/", "http://b.example/"})
	require.NoError(t, err)
	c, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	// The head and the credentials at once, then the rest never comes.
	cut := strings.Index(string(full), "http://a.example/")
	_, err = fmt.Fprintf(c, "POST /RPC2 HTTP/1.1\r\nHost: lms\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:cut])
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%s", b)
	require.NotContains(t, string(b), "127.0.0.1")
	require.NotContains(t, string(b), "i/o timeout")
}
