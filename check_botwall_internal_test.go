package lms

import (
	"net/http"
	"testing"
)

func TestBotMarker(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name string
		code int
		h    http.Header
		body string
		want string
	}{
		{"cf-mitigated", 403, hdr("Cf-Mitigated", "challenge"), "", "Cloudflare challenge"},
		{"cf-mitigated on any code", 404, hdr("Cf-Mitigated", "challenge"), "", "Cloudflare challenge"},
		{"Just a moment", 503, nil, "<title>Just a moment...</title>", "Cloudflare challenge"},
		{"Attention Required", 403, nil, "<title>Attention Required! | Cloudflare</title>", "Cloudflare"},
		{"Turnstile", 403, nil, `<script src="https://challenges.cloudflare.com/turnstile/v0/api.js">`, "Cloudflare challenge"},
		{"Vercel", 429, hdr("X-Vercel-Mitigated", "challenge"), "", "Vercel challenge"},
		{"AWS WAF", 202, hdr("X-Amzn-Waf-Action", "challenge"), "", "AWS WAF challenge"},
		{"Sucuri block", 403, hdr("X-Sucuri-Block", "1"), "", "Sucuri firewall"},
		{"Sucuri id on a 403", 403, hdr("X-Sucuri-Id", "1"), "", "Sucuri firewall"},
		{"DataDome header", 403, hdr("X-Datadome", "protected"), "", "DataDome"},
		{"DataDome cookie", 403, hdr("Set-Cookie", "datadome=x; Path=/"), "", "DataDome"},
		{"DataDome page", 403, nil, `<script src="https://ct.captcha-delivery.com/c.js">`, "DataDome"},
		{"Imperva header", 403, hdr("X-Iinfo", "1-2-3"), "", "Imperva"},
		{"Imperva page", 403, nil, "Request unsuccessful. Incapsula incident ID: 1", "Imperva"},
		{"Kasada", 429, hdr("X-Kpsdk-Ct", "x"), "", "Kasada"},
		{"HUMAN", 403, nil, "Press &amp; Hold to confirm you are a human", "HUMAN (PerimeterX)"},
		{"Akamai", 403, hdr("Server", "AkamaiGHost"), "", "Akamai"},
		{"Wordfence", 503, nil, "Your access to this site has been limited by the site owner", "Wordfence"},
		{"reCAPTCHA", 403, nil, `<script src="https://www.google.com/recaptcha/api.js">`, "a CAPTCHA page"},
		{"DDoS-Guard", 403, hdr("Server", "ddos-guard"), "", "DDoS-Guard"},
		// Vendor markers come with every answer of a protected site: a 404
		// or a 500 through them is what it says.
		{"DataDome on a 404", 404, hdr("X-Datadome", "protected"), "", ""},
		{"Akamai on a 500", 500, hdr("Server", "AkamaiGHost"), "", ""},
		{"a plain 403", 403, hdr("Server", "nginx"), "<h1>Forbidden</h1>", ""},
		{"Cloudflare's server header alone", 403, hdr("Server", "cloudflare"), "", ""},
	}
	for _, tc := range cases {
		if got := botMarker(tc.code, tc.h, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: botMarker = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestBotCandidate(t *testing.T) {
	for code, want := range map[int]bool{200: false, 301: false, 401: false, 403: true, 404: false, 406: true, 429: true, 430: true, 500: false, 503: false, 520: false, 599: false, 600: false, 700: false, 998: false, 999: true} {
		if got := botCandidate(&answer{code: code}); got != want {
			t.Errorf("botCandidate(%d) = %v, want %v", code, got, want)
		}
	}
	if botCandidate(&answer{code: 429, retryAfter: 1}) {
		t.Error("a 429 with Retry-After is honoured, not retried")
	}
	if !botCandidate(&answer{code: 503, marker: "Cloudflare challenge"}) {
		t.Error("a marked 503 deserves the retry")
	}
}

func TestBodyScan(t *testing.T) {
	page := []byte("<html><body>hello</body></HTML>\n")
	for split := range len(page) {
		s := &bodyScan{}
		_, _ = s.Write(page[:split])
		_, _ = s.Write(page[split:])
		if !s.end {
			t.Errorf("closing tag split at %d not seen", split)
		}
	}
	s := &bodyScan{keep: 4}
	for _, b := range page[:len(page)-10] {
		_, _ = s.Write([]byte{b})
	}
	if s.end || string(s.head) != "<htm" {
		t.Errorf("end %v, head %q", s.end, s.head)
	}
}
