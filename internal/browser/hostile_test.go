package browser

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// emptyBlocks is a compressed stream that never yields a byte: a gzip,
// zlib or bare deflate header, then empty stored deflate blocks for ever.
// It counts what was read of it.
type emptyBlocks struct {
	head []byte
	n    int64
}

// emptyBlock is one non-final stored deflate block of no bytes: BFINAL 0,
// BTYPE 00, padding, LEN 0, NLEN 0xffff.
var emptyBlock = []byte{0x00, 0x00, 0x00, 0xff, 0xff}

var (
	gzipHead = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	zlibHead = []byte{0x78, 0x9c}
)

func (e *emptyBlocks) Read(p []byte) (int, error) {
	for i := range p {
		pos := e.n + int64(i)
		if pos < int64(len(e.head)) {
			p[i] = e.head[pos]
		} else {
			p[i] = emptyBlock[(pos-int64(len(e.head)))%int64(len(emptyBlock))]
		}
	}
	e.n += int64(len(p))
	return len(p), nil
}

// Compressed bodies that never produce output are read within the wire
// cap, whatever they are (a page, a redirect's body, an error page), and a
// page that reached the wire cap before its decoded cap is too much data;
// the visit's wire budget is shared by its bodies.
func TestReadEmptyBlocks(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://example.org/a")
	resp := func(code int, enc string, body io.Reader, kv ...string) *http.Response {
		h := http.Header{"Content-Encoding": {enc}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(body), Request: &http.Request{URL: u}}
	}
	const budget = 1 << 20
	for _, tc := range []struct {
		name     string
		code     int
		enc      string
		head     []byte
		kv       []string
		wireCap  int64
		tooMuch  bool
		location string
	}{
		{"a gzip page", 200, "gzip", gzipHead, nil, WireBudget(budget), true, ""},
		{"a zlib deflate page", 200, "deflate", zlibHead, nil, WireBudget(budget), true, ""},
		{"a bare deflate page", 200, "deflate", nil, nil, WireBudget(budget), true, ""},
		{"a redirect's body", 302, "gzip", gzipHead, []string{"Location", "/b"}, WireBudget(MaxRedirectBody), true, "/b"},
		{"an error page", 404, "gzip", gzipHead, nil, WireBudget(MaxMarkerBody), true, ""},
	} {
		body := &emptyBlocks{head: tc.head}
		start := time.Now()
		a := Read(t.Context(), resp(tc.code, tc.enc, body, tc.kv...), ReadLimits{Budget: budget, Timeout: time.Second})
		if a.N != 0 || a.Wire != tc.wireCap || body.n > tc.wireCap+4096 {
			t.Errorf("%s: %d decoded, %d on the wire (%d taken from the server), want 0, %d", tc.name, a.N, a.Wire, body.n, tc.wireCap)
		}
		if got := errors.Is(a.BodyErr, ErrTooMuchData); got != tc.tooMuch {
			t.Errorf("%s: body error %v", tc.name, a.BodyErr)
		}
		if a.Location != tc.location {
			t.Errorf("%s: location %q", tc.name, a.Location)
		}
		t.Logf("%s: %d bytes on the wire in %v", tc.name, a.Wire, time.Since(start))
	}

	// One visit: what its bodies read on the wire is counted against it,
	// and once it is spent a body is not read at all.
	v := NewVisit(WireBudget(budget), nil)
	for i := range 3 {
		a := Read(t.Context(), resp(200, "gzip", &emptyBlocks{head: gzipHead}), ReadLimits{Budget: budget, Visit: v, Timeout: time.Second})
		want := WireBudget(budget)
		if i > 0 {
			want = 0
		}
		if a.Wire != want || !errors.Is(a.BodyErr, ErrTooMuchData) {
			t.Errorf("body %d of one visit: %d on the wire (%v), want %d", i, a.Wire, a.BodyErr, want)
		}
	}
	if v.WireLeft() != 0 {
		t.Errorf("the visit has %d bytes left", v.WireLeft())
	}

	// Real bodies reach their decoded cap first: plain, compressing well,
	// and one that does not compress (a little larger, compressed).
	noise := make([]byte, budget*3/2)
	_, _ = rand.Read(noise)
	gz := func(b []byte) io.Reader {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return &buf
	}
	for _, tc := range []struct {
		name string
		body io.Reader
		enc  string
	}{
		{"plain", &zeros{}, ""},
		{"gzip, compressing well", gz(make([]byte, 4*budget)), "gzip"},
		{"gzip, not compressing", gz(noise), "gzip"},
	} {
		a := Read(t.Context(), resp(200, tc.enc, tc.body), ReadLimits{Budget: budget, Timeout: time.Second})
		if a.N != budget || a.BodyErr != nil {
			t.Errorf("%s: %d decoded (%v), want %d and no error", tc.name, a.N, a.BodyErr, budget)
		}
	}
}

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// The jar keeps cookies as a browser does: one over 4 KB is dropped, a
// host's cookies are bounded in number and bytes, a deletion frees room,
// and the Cookie header stays bounded whatever was set.
func TestJarLimits(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://example.org/")
	cookie := func(name string, size int) *http.Cookie {
		return &http.Cookie{Name: name, Value: strings.Repeat("v", size-len(name))}
	}
	header := func(j *Jar, u *url.URL) int {
		req := &http.Request{Header: http.Header{}}
		for _, c := range j.Cookies(u) {
			req.AddCookie(c)
		}
		return len(req.Header.Get("Cookie"))
	}

	j := NewJar(1000)
	j.SetCookies(u, []*http.Cookie{cookie("big", 250<<10), cookie("over", MaxCookieSize+1), cookie("max", MaxCookieSize)})
	if cs := j.Cookies(u); len(cs) != 1 || cs[0].Name != "max" {
		t.Errorf("cookies kept: %v; want only the one of 4096 bytes", cs)
	}
	// A Path attribute over 1024 bytes is ignored, the cookie kept.
	j.SetCookies(u, []*http.Cookie{{Name: "p", Value: "1", Path: "/" + strings.Repeat("x", 2000)}})
	if len(j.Cookies(u)) != 2 {
		t.Errorf("a cookie with a long Path attribute was dropped: %v", j.Cookies(u))
	}

	// Bytes per host: 4 KB cookies until MaxHostCookieBytes.
	j = NewJar(1000)
	for i := range 20 {
		j.SetCookies(u, []*http.Cookie{cookie(fmt.Sprintf("c%02d", i), MaxCookieSize)})
	}
	if n := len(j.Cookies(u)); n != MaxHostCookieBytes/MaxCookieSize {
		t.Errorf("%d cookies of 4 KB kept, want %d", n, MaxHostCookieBytes/MaxCookieSize)
	}
	// Replacing a cookie takes no more room; deleting one frees it.
	j.SetCookies(u, []*http.Cookie{cookie("c00", MaxCookieSize)})
	j.SetCookies(u, []*http.Cookie{{Name: "c01", MaxAge: -1}})
	j.SetCookies(u, []*http.Cookie{cookie("new", MaxCookieSize)})
	names := map[string]bool{}
	for _, c := range j.Cookies(u) {
		names[c.Name] = true
	}
	if !names["c00"] || names["c01"] || !names["new"] || len(names) != MaxHostCookieBytes/MaxCookieSize {
		t.Errorf("after replacing c00, deleting c01 and setting new: %v", names)
	}

	// Cookies per host: small ones until MaxHostCookies.
	j = NewJar(1000)
	var cs []*http.Cookie
	for i := range 300 {
		cs = append(cs, cookie(fmt.Sprintf("s%03d", i), 8))
	}
	j.SetCookies(u, cs)
	if n := len(j.Cookies(u)); n != MaxHostCookies {
		t.Errorf("%d small cookies kept, want %d", n, MaxHostCookies)
	}

	// Many hosts of one site setting domain cookies: the header sent to
	// any of them stays bounded.
	j = NewJar(1000)
	for i := range 40 {
		h, _ := url.Parse(fmt.Sprintf("http://h%d.example.org/", i))
		c := cookie(fmt.Sprintf("d%02d", i), MaxCookieSize)
		c.Domain = "example.org"
		j.SetCookies(h, []*http.Cookie{c})
	}
	if n := header(j, u); n > MaxCookieHeader || n < MaxCookieHeader-MaxCookieSize-3 {
		t.Errorf("Cookie header of %d bytes, want at most %d (and near it)", n, MaxCookieHeader)
	}
}
