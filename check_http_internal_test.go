package lms

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"Mon, 23 Nov 2026 12:01:30 GMT", 90 * time.Second},
		{"120", 2 * time.Minute},
		{"soon", 0},
		{"-5", 0},
		{"", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The host forms of the WHATWG URL Standard's IPv4 parser, which browsers
// apply to every http(s) host that ends in a number.
func TestBrowserHost(t *testing.T) {
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
		got, ok := browserHost(in)
		if !ok || got != want {
			t.Errorf("browserHost(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
	// Hosts that end in a number but are no IPv4 address: browsers refuse
	// the URL.
	for _, in := range []string{"4294967296", "127.0.0.256", "256.1", "1.2.3.4.5", "1..2", "example.123", "09", "1.2.3.0x100",
		"99999999999999999999999999", "1.2.3.4.0", "a.0x"} {
		if got, ok := browserHost(in); ok {
			t.Errorf("browserHost(%q) = %q, true; want invalid", in, got)
		}
	}
}
