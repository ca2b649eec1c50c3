package lms

import (
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// networkScheme reports whether checks of the scheme make network requests
// and are therefore paced per host.
func networkScheme(s string) bool {
	switch strings.ToLower(s) {
	case "http", "https", "ftp":
		return true
	}
	return false
}

// HostKey returns the politeness key of a URL: its lower-cased IDNA (ASCII)
// host name, without port. URLs that are checked without touching the
// network (mailto:, unknown schemes, unparsable URLs) have key "".
func HostKey(rawURL string) string {
	i := strings.IndexByte(rawURL, ':')
	if i <= 0 || !networkScheme(rawURL[:i]) {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if h == "" {
		return ""
	}
	if a, err := idna.Lookup.ToASCII(h); err == nil {
		h = a
	}
	return h
}
