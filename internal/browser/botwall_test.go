package browser

import (
	"net/http"
	"testing"
)

func TestMarker(t *testing.T) {
	t.Parallel()
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
		if got := Marker(tc.code, tc.h, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: Marker = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestBodyScan(t *testing.T) {
	t.Parallel()
	page := []byte("<html><body>hello</body></HTML>\n")
	for split := range len(page) {
		s := &BodyScan{}
		_, _ = s.Write(page[:split])
		_, _ = s.Write(page[split:])
		if !s.End {
			t.Errorf("closing tag split at %d not seen", split)
		}
	}
	s := &BodyScan{Keep: 4}
	for _, b := range page[:len(page)-10] {
		_, _ = s.Write([]byte{b})
	}
	if s.End || string(s.Head) != "<htm" {
		t.Errorf("end %v, head %q", s.End, s.Head)
	}
}
