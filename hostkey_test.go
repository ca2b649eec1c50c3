package lms_test

import (
	"testing"

	"github.com/linkmonitor/lms"
)

// One host gets one politeness key however a client spells it, so that
// spellings cannot multiply the requests it receives.
func TestHostKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://Example.ORG/path":        "example.org",
		"http://example.org./path":       "example.org",
		"https://example.org:8443/":      "example.org",
		"ftp://user:pw@ftp.example.org/": "ftp.example.org",
		"http://127.1/":                  "127.0.0.1",
		"http://0x7f.0.0.1/":             "127.0.0.1",
		"http://2130706433/":             "127.0.0.1",
		"http://127.0.0.1./":             "127.0.0.1",
		"http://bücher.example/":         "xn--bcher-kva.example",
		"http://[::1]:8080/":             "::1",
		"gemini://Example.ORG:1965/":     "example.org", // any scheme with an authority
		"x-custom://user@127.1/":         "127.0.0.1",
		"file:///etc/hosts":              "",
		"mailto:a@example.org":           "",
		"news:comp.lang.go":              "",
		"http:///nohost":                 "",
	} {
		if got := lms.HostKey(in); got != want {
			t.Errorf("HostKey(%q) = %q, want %q", in, got, want)
		}
	}
}
