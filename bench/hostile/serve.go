package main

// The hostile sites, run in a child process so that their CPU and memory
// are not counted as the checker's: each attack of issue 20 on loopback
// addresses of its own, and a third party on 127.0.0.3 that only counts
// the requests it gets. The parent reads one JSON line of addresses, then
// asks for the counters ("stats") and resets them ("reset") on stdin.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sites is what the child tells the parent.
type sites struct {
	Root         []byte   // DER of the root the sites' certificates chain to
	GzipPage     string   // a page of empty deflate blocks, for ever
	GzipRedirect string   // a redirect whose body is empty deflate blocks, to a page that is ok
	GzipAIA      string   // an https site whose issuer's address serves empty blocks
	AIAFlood     []string // https sites serving a fresh certificate of 1,400 AIA addresses at every handshake
	CookieLoops  []string // redirect loops setting a 250 KB cookie per hop, on twenty hosts
}

// stats are the child's counters since the last reset.
type stats struct {
	Sent          int64         // body bytes the hostile sites got out
	ThirdParty    int64         // requests the third party got
	MinGap        time.Duration // the least time between two of them (0: fewer than two)
	LargestCookie int64         // the largest Cookie header a site got
	Received      int64         // request head bytes the cookie loop got
}

// counters are the live stats.
type counters struct {
	sent, third, cookie, received atomic.Int64

	mu     sync.Mutex
	last   time.Time // the third party's last request
	minGap time.Duration
}

// thirdParty counts a request to the third party.
func (c *counters) thirdParty() {
	c.third.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if g := now.Sub(c.last); !c.last.IsZero() && (c.minGap == 0 || g < c.minGap) {
		c.minGap = g
	}
	c.last = now
}

func (c *counters) snapshot() stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stats{Sent: c.sent.Load(), ThirdParty: c.third.Load(), MinGap: c.minGap, LargestCookie: c.cookie.Load(), Received: c.received.Load()}
}

func (c *counters) reset() {
	c.sent.Store(0)
	c.third.Store(0)
	c.cookie.Store(0)
	c.received.Store(0)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.minGap = time.Time{}, 0
}

// serve runs the child until its stdin closes.
func serve() error {
	var c counters
	pki, err := newPKI()
	if err != nil {
		return err
	}
	listen := func(ip string, h func(net.Conn)) (string, error) {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			return "", err
		}
		go func() {
			for {
				cn, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer cn.Close()
					h(cn)
				}()
			}
		}()
		return l.Addr().String(), nil
	}
	emptyBlocks := func(cn net.Conn, head string) {
		if readHead(cn) == nil {
			return
		}
		_, _ = io.WriteString(cn, head)
		c.sent.Add(sendEmptyBlocks(cn))
	}
	var s sites
	s.Root = pki.root.Raw
	page, err := listen("127.0.0.1", func(cn net.Conn) {
		emptyBlocks(cn, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n")
	})
	if err != nil {
		return err
	}
	s.GzipPage = "http://" + page + "/"
	redirect, err := listen("127.0.0.1", func(cn net.Conn) {
		req := readHead(cn)
		if req != nil && req.URL.Path == "/next" {
			_, _ = io.WriteString(cn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return
		}
		_, _ = io.WriteString(cn, "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Encoding: gzip\r\n\r\n")
		c.sent.Add(sendEmptyBlocks(cn))
	})
	if err != nil {
		return err
	}
	s.GzipRedirect = "http://" + redirect + "/"
	badIssuer, err := listen("127.0.0.2", func(cn net.Conn) {
		emptyBlocks(cn, "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\nContent-Encoding: gzip\r\n\r\n")
	})
	if err != nil {
		return err
	}
	third := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.thirdParty()
		http.NotFound(w, r)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	tl, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		return err
	}
	go func() { _ = third.Serve(tl) }()
	thirdURL := "http://" + tl.Addr().String()

	tlsSite := func(ip string, aia func() []string) (string, error) {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ErrorLog: log.New(io.Discard, "", 0),
			TLSConfig: &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return pki.leaf(ip, aia()) }}}
		go func() { _ = srv.ServeTLS(l, "", "") }()
		return "https://" + l.Addr().String() + "/", nil
	}
	if s.GzipAIA, err = tlsSite("127.0.0.1", func() []string { return []string{"http://" + badIssuer + "/inter.crt"} }); err != nil {
		return err
	}
	var fresh atomic.Int64
	flood := func() []string {
		n := fresh.Add(1)
		urls := make([]string, 1400)
		for i := range urls {
			urls[i] = fmt.Sprintf("%s/c%d/%d.crt", thirdURL, n, i)
		}
		return urls
	}
	for i := range 20 {
		u, err := tlsSite(fmt.Sprintf("127.0.1.%d", i+1), flood)
		if err != nil {
			return err
		}
		s.AIAFlood = append(s.AIAFlood, u)
	}
	cookieLoop := func(cn net.Conn) {
		req := readHead(cn)
		if req == nil {
			return
		}
		ck := int64(len(req.Header.Get("Cookie")))
		for old := c.cookie.Load(); ck > old && !c.cookie.CompareAndSwap(old, ck); old = c.cookie.Load() {
		}
		c.received.Add(ck)
		n, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/"))
		_, _ = fmt.Fprintf(cn, "HTTP/1.1 302 Found\r\nLocation: /%d\r\nConnection: close\r\nSet-Cookie: c%d=%s; Path=/\r\nContent-Length: 0\r\n\r\n",
			n+1, n, strings.Repeat("v", 250_000))
	}
	for i := range 20 {
		loop, err := listen(fmt.Sprintf("127.0.2.%d", i+1), cookieLoop)
		if err != nil {
			return err
		}
		s.CookieLoops = append(s.CookieLoops, "http://"+loop+"/0")
	}

	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(s); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stats":
			if err := out.Encode(c.snapshot()); err != nil {
				return err
			}
		case "reset":
			c.reset()
		}
	}
	return in.Err()
}

// readHead reads a request head (any size: the cookie loop measures what
// it is sent).
func readHead(cn net.Conn) *http.Request {
	_ = cn.SetDeadline(time.Now().Add(time.Minute))
	req, err := http.ReadRequest(bufio.NewReader(cn))
	if err != nil {
		return nil
	}
	return req
}

// sendEmptyBlocks writes a gzip header and then empty stored deflate
// blocks (BFINAL 0, BTYPE 00, LEN 0, NLEN 0xffff), which decode to
// nothing, until the peer goes away; it returns the bytes it got out.
func sendEmptyBlocks(cn net.Conn) int64 {
	n, err := cn.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	total := int64(n)
	blocks := []byte(strings.Repeat("\x00\x00\x00\xff\xff", 64<<10/5))
	for err == nil {
		_ = cn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		n, err = cn.Write(blocks)
		total += int64(n)
	}
	return total
}

// pki is a root and an intermediate that the sites never send: a client
// must fetch it by AIA.
type pki struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
	mu          sync.Mutex
	serial      int64
}

func newPKI() (*pki, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca := func(n int64, name string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	rootTmpl := ca(1, "hostile bench root")
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	der, err = x509.CreateCertificate(rand.Reader, ca(2, "hostile bench intermediate"), root, &interKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &pki{root: root, inter: inter, interKey: interKey, serial: 100}, nil
}

// leaf issues a certificate for ip naming aia as its issuer's addresses.
func (p *pki) leaf(ip string, aia []string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.serial++
	serial := p.serial
	p.mu.Unlock()
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: ip}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IssuingCertificateURL: aia}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.inter, &key.PublicKey, p.interKey)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
