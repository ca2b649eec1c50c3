package browser

import (
	"net/url"
	"testing"
)

// The host forms of the WHATWG URL Standard's IPv4 parser, which browsers
// apply to every http(s) host that ends in a number.
func TestHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.1":            "127.0.0.1",
		"0x7f.1":           "127.0.0.1",
		"0X7F.0.0.1":       "127.0.0.1",
		"2130706433":       "127.0.0.1",
		"017700000001":     "127.0.0.1",
		"0300.0250.0.1":    "192.168.0.1",
		"127.0.0.1.":       "127.0.0.1",
		"1.2.3":            "1.2.0.3",
		"0x":               "0.0.0.0",
		"4294967295":       "255.255.255.255",
		"example.org":      "example.org",
		"example.org.":     "example.org.",
		"Example.ORG":      "Example.ORG",
		"0x1g":             "0x1g", // not a number: a name
		"1.2.3.4a":         "1.2.3.4a",
		"xn--nxasmq6b.com": "xn--nxasmq6b.com",
		"::1":              "::1",
		".":                ".",
	} {
		got, ok := Host(in)
		if !ok || got != want {
			t.Errorf("Host(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
	// Hosts that end in a number but are no IPv4 address: browsers refuse
	// the URL.
	for _, in := range []string{"4294967296", "127.0.0.256", "256.1", "1.2.3.4.5", "1..2", "example.123", "09", "1.2.3.0x100",
		"99999999999999999999999999", "1.2.3.4.0", "a.0x"} {
		if got, ok := Host(in); ok {
			t.Errorf("Host(%q) = %q, true; want invalid", in, got)
		}
	}
}

// How browsers put a link or a Location on the request line: what Go's
// parser would refuse or send raw is escaped, everything else stays byte
// for byte (escapes keep their case, %2F stays %2F).
func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// A "%" that starts no escape ("50%-off", "100%") is sent as %25.
		{"/deals/50%-off", "/deals/50%25-off"},
		{"/100%", "/100%25"},
		{"/a%4", "/a%254"},
		{"/a%zz", "/a%25zz"},
		// Spaces, in the path or the query, are %20; so are '"', '<', '>'.
		{"/search?q=hello world", "/search?q=hello%20world"},
		{"/new page", "/new%20page"},
		{"/path with space/index.html", "/path%20with%20space/index.html"},
		{`/"a"<b>`, "/%22a%22%3Cb%3E"},
		// Bytes beyond ASCII are their UTF-8 escaped.
		{"/café", "/caf%C3%A9"},
		// Leading and trailing spaces go.
		{"/landing   ", "/landing"},
		{"  http://example.org/  ", "http://example.org/"},
		// Kept as written.
		{"/files/a%2Fb.pdf", "/files/a%2Fb.pdf"},
		{"/%7euser/", "/%7euser/"},
		{"/caf%c3%a9", "/caf%c3%a9"},
		{"/wiki/Foo_(bar)", "/wiki/Foo_(bar)"},
		{"/q?a=1&b=%20x&c=%2B", "/q?a=1&b=%20x&c=%2B"},
		{"/search?q=caf%C3%A9#results!", "/search?q=caf%C3%A9#results!"},
		{"", ""},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRewriteHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want    string
		changed, ok bool
	}{
		{"http://127.1:8080/x", "http://127.0.0.1:8080/x", true, true},
		{"http://0x7f.1/", "http://127.0.0.1/", true, true},
		{"http://example.org/", "http://example.org/", false, true},
		{"http://[::1]:80/", "http://[::1]:80/", false, true},
		{"http://127.0.0.256/", "http://127.0.0.256/", false, false},
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		changed, ok := RewriteHost(u)
		if changed != tc.changed || ok != tc.ok || u.String() != tc.want {
			t.Errorf("RewriteHost(%s) = %v, %v, %s; want %v, %v, %s", tc.in, changed, ok, u, tc.changed, tc.ok, tc.want)
		}
	}
}

func TestValidPortAndDialAddr(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{"": true, "1": true, "65535": true, "0": false, "65536": false, "x": false, "-1": false} {
		if ValidPort(p) != want {
			t.Errorf("ValidPort(%q) = %v", p, !want)
		}
	}
	for in, want := range map[string]string{
		"localhost.:80":    "localhost:80",
		"example.org.:443": "example.org:443",
		"example.org:443":  "example.org:443",
		".:80":             ".:80",
		"[::1]:80":         "[::1]:80",
		"no-port-example.": "no-port-example.",
	} {
		if got := DialAddr(in); got != want {
			t.Errorf("DialAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
