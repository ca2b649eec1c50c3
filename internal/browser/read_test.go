package browser

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// What Read keeps of a response, by what the response is.
func TestRead(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://example.org/a")
	resp := func(code int, body string, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: &http.Request{URL: u}}
	}
	page := "<html><body>" + strings.Repeat("x", 100) + "</body></html>"
	for _, tc := range []struct {
		name   string
		resp   *http.Response
		budget int64
		want   Answer
	}{
		{"a page, whole", resp(200, page, "Content-Type", "text/html"), 1 << 20,
			Answer{Code: 200, Complete: true, N: int64(len(page))}},
		{"a page cut by the budget", resp(200, page), 10, Answer{Code: 200, N: 10}},
		{"a redirect", resp(301, "moved", "Location", "/b"), 1 << 20, Answer{Code: 301, Location: "/b", N: 5}},
		{"a Refresh header", resp(200, "x", "Refresh", "0; url=/new"), 1 << 20, Answer{Code: 200, Refresh: "/new", N: 1}},
		{"a meta refresh", resp(200, `<meta http-equiv="refresh" content="1;url=/m">`, "Content-Type", "text/html"), 1 << 20,
			Answer{Code: 200, Refresh: "/m", N: 46}},
		{"a meta refresh in what is no HTML", resp(200, `<meta http-equiv="refresh" content="1;url=/m">`, "Content-Type", "text/plain"), 1 << 20,
			Answer{Code: 200, N: 46}},
		{"a challenge page", resp(403, "<title>Just a moment...</title>"), 1 << 20,
			Answer{Code: 403, Marker: "Cloudflare challenge", N: 31}},
		{"a 429 with Retry-After", resp(429, "", "Retry-After", "120"), 1 << 20, Answer{Code: 429, RetryAfter: 2 * time.Minute}},
		{"a 503 with Retry-After", resp(503, "", "Retry-After", "60"), 1 << 20, Answer{Code: 503, RetryAfter: time.Minute}},
		{"a 101", resp(101, "the raw connection", "Upgrade", "websocket"), 1 << 20, Answer{Code: 101, Upgrade: "websocket"}},
	} {
		a := Read(context.Background(), tc.resp, ReadLimits{Budget: tc.budget, Timeout: time.Second})
		tc.want.URL, tc.want.Wire = u, tc.want.N // uncompressed: as many bytes on the wire
		if a.BodyErr != nil {
			t.Errorf("%s: body error %v", tc.name, a.BodyErr)
		}
		a.BodyErr, a.Header = nil, nil
		if !reflect.DeepEqual(*a, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, *a, tc.want)
		}
	}
	// A body the visit's end cuts off reports the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer pw.Close()
	r := resp(200, "")
	r.Body = pr
	go func() {
		_, _ = pw.Write([]byte("start"))
		cancel()
	}()
	if a := Read(ctx, r, ReadLimits{Budget: 1 << 20, Timeout: time.Second}); a.BodyErr == nil || ctx.Err() == nil ||
		!strings.Contains(a.BodyErr.Error(), context.Canceled.Error()) {
		t.Errorf("a body cut by the visit's end: %v", a.BodyErr)
	}
}

func TestJar(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://example.org/")
	j := NewJar(2)
	k0 := j.Key(u)
	j.SetCookies(u, []*http.Cookie{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}, {Name: "c", Value: "3"}})
	if got := len(j.Cookies(u)); got != 2 || !j.Full() {
		t.Errorf("%d cookies kept, full %v; want 2, true", got, j.Full())
	}
	if j.Key(u) == k0 {
		t.Error("the same address with new cookies has the same key: a session redirect would be a loop")
	}
	if NewJar(2).Key(u) != k0 {
		t.Error("the same address with the same cookies has another key: a loop would go unnoticed")
	}
}

// ReadLimits.Page keeps the start of a 2xx page's body (for the "alive but
// wrong" detector), not of a download or an error page; a meta refresh is
// still found only at the top.
func TestReadKeepsPage(t *testing.T) {
	u, _ := url.Parse("http://x.example/a")
	resp := func(code int, body, ctype string) *http.Response {
		h := http.Header{}
		if ctype != "" {
			h.Set("Content-Type", ctype)
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: &http.Request{URL: u}}
	}
	page := "<html><head><title>Page not found</title></head><body>" + strings.Repeat("y", 20000) + "</body></html>"
	for _, tc := range []struct {
		name  string
		resp  *http.Response
		keep  int
		bytes int
	}{
		{"an HTML page", resp(200, page, "text/html; charset=utf-8"), 1 << 10, 1 << 10},
		{"a short page, whole", resp(200, "<p>hi</p>", "text/html"), 1 << 10, 9},
		{"an untyped page", resp(200, page, ""), 1 << 20, len(page)},
		{"plain text", resp(200, "Not found", "text/plain"), 1 << 10, 9},
		{"a PDF", resp(200, "%PDF-1.7", "application/pdf"), 1 << 10, 0},
		{"an error page", resp(404, page, "text/html"), 1 << 10, 0},
		{"no Page limit", resp(200, page, "text/html"), 0, 0},
	} {
		a := Read(context.Background(), tc.resp, ReadLimits{Budget: 1 << 20, Timeout: time.Second, Page: tc.keep})
		if len(a.Body) != tc.bytes || tc.bytes > 0 && string(a.Body) != page[:tc.bytes] && tc.bytes != 9 {
			t.Errorf("%s: kept %d bytes, want %d", tc.name, len(a.Body), tc.bytes)
		}
		if a.Header == nil {
			t.Errorf("%s: no header", tc.name)
		}
	}
	deep := "<html><body>" + strings.Repeat("z", 9000) + `<meta http-equiv="refresh" content="0;url=/late"></body></html>`
	if a := Read(context.Background(), resp(200, deep, "text/html"), ReadLimits{Budget: 1 << 20, Timeout: time.Second, Page: 1 << 16}); a.Refresh != "" || len(a.Body) != len(deep) {
		t.Errorf("a meta refresh past the head was followed (%q) or the page not kept (%d bytes)", a.Refresh, len(a.Body))
	}
}
