package lms_test

// Every check is bounded (issue 14, item 1): hostile loopback servers that
// never stop sending, or send very slowly, end the check within its
// timeout, with a plain reason, and without growing the process.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// endless writes chunk to c until the peer goes away and returns how many
// bytes it got out.
func endless(c net.Conn, chunk []byte) int64 {
	var n int64
	for {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		m, err := c.Write(chunk)
		n += int64(m)
		if err != nil {
			return n
		}
	}
}

// paced writes s, piece bytes every gap, round and round until the peer
// goes away: a trickle (a byte at a time) or a stream (a frame at a time).
func paced(c net.Conn, s string, piece int, gap time.Duration) {
	for i := 0; ; i += piece {
		j := i % len(s)
		if _, err := c.Write([]byte(s[j:min(j+piece, len(s))])); err != nil {
			return
		}
		// The pace is the server's behaviour under test (a slow line, a
		// stream's rate), not a wait for something to happen: no signal
		// replaces it.
		time.Sleep(gap)
	}
}

// memProbe measures what a piece of work costs the process: bytes
// allocated, and the growth of the resident set's high-water mark where
// Linux lets us reset it.
type memProbe struct {
	alloc0 uint64
	hwm    bool
	rss0   int64
}

func startProbe() *memProbe {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p := &memProbe{alloc0: ms.TotalAlloc}
	// "5" resets the peak RSS (VmHWM) to the current RSS.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err == nil {
		p.hwm, p.rss0 = true, procStatus("VmHWM")
	}
	return p
}

// stop returns the bytes allocated and the peak RSS growth (-1 if unknown).
func (p *memProbe) stop() (alloc uint64, rssGrowth int64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rssGrowth = -1
	if p.hwm {
		rssGrowth = procStatus("VmHWM") - p.rss0
	}
	return ms.TotalAlloc - p.alloc0, rssGrowth
}

// procStatus returns a "kB" field of /proc/self/status in bytes.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

// gzipMember is one gzip member of n zero bytes; members concatenate.
func gzipMember(t *testing.T, n int) []byte {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for range n >> 20 {
		_, _ = zw.Write(zeros)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func TestHTTPChecksAreBounded(t *testing.T) {
	member := gzipMember(t, 16<<20) // 16 MiB of zeros in ~16 KB
	var sent atomic.Int64
	cookies := func() string {
		var b strings.Builder
		for i := range 10_000 {
			fmt.Fprintf(&b, "Set-Cookie: session%05d=%s; Path=/\r\n", i, strings.Repeat("v", 20))
		}
		return b.String()
	}()
	cases := []struct {
		name   string
		serve  func(net.Conn)
		state  lms.State
		reason string
	}{
		{"endless header", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n"))
			sent.Add(endless(c, []byte("X-Filler: "+strings.Repeat("a", 4000)+"\r\n")))
		}, lms.StateUnavailable, "far too many or too large headers"},
		{"endless header line", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Filler: "))
			sent.Add(endless(c, bytes.Repeat([]byte("a"), 64<<10)))
		}, lms.StateUnavailable, "far too many or too large headers"},
		{"endless status line", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 "))
			sent.Add(endless(c, bytes.Repeat([]byte("a"), 64<<10)))
		}, lms.StateUnavailable, "too large headers"},
		{"endless body (a gigabyte)", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1073741824\r\n\r\n"))
			sent.Add(endless(c, bytes.Repeat([]byte("<p>lorem ipsum</p>\n"), 4000)))
		}, lms.StateOK, "OK"},
		{"endless chunked body", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
			chunk := bytes.Repeat([]byte("x"), 32<<10)
			sent.Add(endless(c, append([]byte(fmt.Sprintf("%x\r\n", len(chunk))), append(chunk, "\r\n"...)...)))
		}, lms.StateOK, "OK"},
		{"gzip bomb", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"))
			sent.Add(endless(c, member))
		}, lms.StateOK, "OK"},
		{"10,000 cookies", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n" + cookies + "Content-Length: 2\r\n\r\nok"))
		}, lms.StateUnavailable, "too large headers"},
		{"2,500 cookies per redirect, endlessly", func(c net.Conn) {
			req := readRequest(c)
			n := 0
			if req != nil {
				n, _ = strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/"))
			}
			_, _ = c.Write([]byte(fmt.Sprintf("HTTP/1.1 302 Found\r\nLocation: /%d\r\n%sContent-Length: 0\r\n\r\n", n+1, cookies[:len(cookies)/4])))
		}, lms.StateUnavailable, "redirects more than 20 times"},
		{"a sloppy head (the tolerant parser), trickling", func(c net.Conn) {
			readRequest(c)
			paced(c, "HTTP/1.1 200 OK\r\nThis is sloppy\r\nX-Slow: "+strings.Repeat("z", 1000), 1, 20*time.Millisecond)
		}, lms.StateTemporary, "The page took longer than 1 s"},
		{"a sloppy head (the tolerant parser), trickling body", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nThis is sloppy\r\nContent-Length: 100000\r\n\r\n"))
			paced(c, "slow ", 1, 20*time.Millisecond)
		}, lms.StateTemporary, "The page took longer than 1 s"},
		{"trickling head", func(c net.Conn) {
			readRequest(c)
			paced(c, "HTTP/1.1 200 OK\r\nX-Slow: "+strings.Repeat("z", 1000), 1, 20*time.Millisecond)
		}, lms.StateTemporary, "The page took longer than 1 s"},
		// A stream works for a person, who does not wait for its end: what
		// counts is that data flows (64 KiB within the check's time).
		{"a stream (1.3 Mbit/s for ever)", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n"))
			paced(c, strings.Repeat("\x47", 1600), 1600, 10*time.Millisecond) // 1.3 Mbit/s
		}, lms.StateOK, "OK"},
		// A 101 hands the raw connection over as the "body"; the check ends
		// at once instead of reading it (issue: a 101 held checks forever).
		{"101 Switching Protocols, held open", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
			_, _ = io.Copy(io.Discard, c)
		}, lms.StateUnavailable, "switched to another protocol"},
		{"a sloppy 101 (the tolerant parser), held open", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nThis is sloppy\r\n\r\n"))
			_, _ = io.Copy(io.Discard, c)
		}, lms.StateUnavailable, "switched to another protocol"},
		{"101 and data for ever", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"))
			sent.Add(endless(c, bytes.Repeat([]byte("x"), 32<<10)))
		}, lms.StateUnavailable, "switched to another protocol"},
		{"trickling body", func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"))
			paced(c, "slow ", 1, 20*time.Millisecond)
		}, lms.StateTemporary, "The page took longer than 1 s"},
	}
	cfg := private()
	cfg.Timeout = time.Second
	checker := lms.NewDefaultChecker(cfg)
	// The cookie rows' verdicts do not depend on time, but their work
	// alone can take a second under -race on a loaded machine: they get
	// more of it (and are held to it).
	roomy := cfg
	roomy.Timeout = 5 * time.Second
	roomyChecker := lms.NewDefaultChecker(roomy)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, checker := cfg, checker
			if strings.Contains(tc.name, "cookies") {
				cfg, checker = roomy, roomyChecker
			}
			sent.Store(0)
			addr := rawServer(t, tc.serve)
			p := startProbe()
			start := time.Now()
			r := checker.Check(t.Context(), "http://"+addr+"/0")
			took := time.Since(start)
			alloc, rss := p.stop()
			t.Logf("%s: %s in %v, %d MiB allocated, peak RSS +%d MiB, server sent %d MiB", tc.name, r.Reason, took.Round(time.Millisecond), alloc>>20, rss>>20, sent.Load()>>20)
			require.Equal(t, tc.state, r.State, "%s (%s)", r.Reason, r.Detail)
			require.Contains(t, r.Reason, tc.reason)
			require.Less(t, took, cfg.Timeout+time.Second, "the check ends within its timeout")
			require.Less(t, alloc, uint64(64<<20), "allocation is bounded")
			if rss >= 0 {
				require.Less(t, rss, int64(48<<20), "the resident set stays flat")
			}
		})
	}
}

// rawFTP is a scripted FTP server: it answers the commands a check sends;
// hostile can replace the answer to one command (or the banner, "").
type rawFTP struct {
	hostile map[string]func(net.Conn)
	mu      sync.Mutex
	seen    []string
}

func (f *rawFTP) serve(c net.Conn) {
	if h := f.hostile[""]; h != nil {
		h(c)
		return
	}
	_, _ = c.Write([]byte("220 hostile ftp\r\n"))
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		cmd = strings.ToUpper(cmd)
		f.mu.Lock()
		f.seen = append(f.seen, cmd)
		f.mu.Unlock()
		if h := f.hostile[cmd]; h != nil {
			h(c)
			return
		}
		answer := map[string]string{"USER": "331 password please", "PASS": "230 logged in", "TYPE": "200 ok", "OPTS": "200 ok",
			"CWD": "250 ok", "SIZE": "550 not a file", "QUIT": "221 bye", "PASV": "227 Entering Passive Mode (127,0,0,1,0,1)",
			"EPSV": "229 Entering Extended Passive Mode (|||1|)", "LIST": "150 here it comes", "NLST": "150 here it comes"}[cmd]
		if answer == "" {
			answer = "502 not implemented"
		}
		_, _ = c.Write([]byte(answer + "\r\n"))
		if cmd == "QUIT" {
			return
		}
	}
}

func (f *rawFTP) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func TestFTPChecksAreBounded(t *testing.T) {
	lines := func(prefix string) func(net.Conn) {
		return func(c net.Conn) { endless(c, bytes.Repeat([]byte(prefix+"this never ends\r\n"), 2000)) }
	}
	cases := []struct {
		name    string
		hostile map[string]func(net.Conn)
		path    string
		state   lms.State
		reason  string
	}{
		{"endless banner line", map[string]func(net.Conn){"": func(c net.Conn) {
			_, _ = c.Write([]byte("220 "))
			endless(c, bytes.Repeat([]byte("a"), 64<<10))
		}}, "/file", lms.StateUnavailable, "far more data"},
		{"endless multi-line banner", map[string]func(net.Conn){"": lines("220-")}, "/file", lms.StateUnavailable, "far more data"},
		{"endless reply to USER", map[string]func(net.Conn){"USER": lines("331-")}, "/file", lms.StateUnavailable, "far more data"},
		{"endless FEAT", map[string]func(net.Conn){"FEAT": func(c net.Conn) {
			_, _ = c.Write([]byte("211-Features:\r\n"))
			endless(c, bytes.Repeat([]byte(" MLST type*;size*;\r\n"), 2000))
		}}, "/file", lms.StateUnavailable, "far more data"},
		{"trickling banner", map[string]func(net.Conn){"": func(c net.Conn) { paced(c, "220 this server is slow\r\n", 1, 50*time.Millisecond) }},
			"/file", lms.StateTemporary, "took longer than 1 s"},
		{"garbage instead of FTP", map[string]func(net.Conn){"": func(c net.Conn) {
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			// Hold the connection until the client hangs up (bounded, should
			// it never), so that it reads the banner rather than a reset.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.Copy(io.Discard, c)
		}}, "/file", lms.StateUnavailable, "does not speak FTP"},
		// A directory is checked by entering it: an endless listing is never asked for.
		{"endless listing", map[string]func(net.Conn){"LIST": lines("-rw-r--r-- 1 ftp ftp 0 Jan 1 00:00 "), "NLST": lines("x")}, "/pub/", lms.StateOK, "Directory exists"},
	}
	cfg := private()
	cfg.Timeout = time.Second
	checker := lms.NewDefaultChecker(cfg)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &rawFTP{hostile: tc.hostile}
			addr := rawServer(t, f.serve)
			p := startProbe()
			start := time.Now()
			r := checker.Check(t.Context(), "ftp://"+addr+tc.path)
			took := time.Since(start)
			alloc, rss := p.stop()
			t.Logf("%s: %s in %v, %d MiB allocated, peak RSS +%d MiB", tc.name, r.Reason, took.Round(time.Millisecond), alloc>>20, rss>>20)
			require.Equal(t, tc.state, r.State, "%s (%s)", r.Reason, r.Detail)
			require.Contains(t, r.Reason, tc.reason)
			require.Less(t, took, cfg.Timeout+time.Second)
			require.Less(t, alloc, uint64(16<<20))
			if rss >= 0 {
				require.Less(t, rss, int64(32<<20))
			}
			for _, cmd := range f.commands() {
				require.NotContains(t, []string{"PASV", "EPSV", "LIST", "NLST", "MLSD", "RETR"}, cmd, "no data connection")
			}
		})
	}
}
