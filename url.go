package lms

import (
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// ValidURL reports whether s is acceptable as a link the way the protocol
// defines it: an ASCII URI, a scheme of letters, digits, '+', '-' and '.'
// followed by ':' and printable non-whitespace characters only, at most
// MaxURLLength bytes. registerURLs drops strings that fail this silently.
func ValidURL(s string) bool {
	if len(s) == 0 || len(s) > MaxURLLength {
		return false
	}
	colon := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		if colon < 0 {
			switch {
			case c == ':':
				if i == 0 {
					return false
				}
				colon = i
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '+', c == '-', c == '.':
			default:
				return false
			}
		}
	}
	return colon > 0
}

// ValidateURLs returns the valid strings of in, de-duplicated, in first-seen
// order. It is how registerURLs and the syncer clean client input.
func ValidateURLs(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !ValidURL(s) {
			continue
		}
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

// CheckStoreURL is the validation every Store applies to a URL it is asked
// to keep: non-empty, at most MaxURLLength bytes, no whitespace or control
// bytes (which also keeps key separators out of URLs). It returns an error
// wrapping ErrInvalid.
func CheckStoreURL(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty URL", ErrInvalid)
	}
	if len(s) > MaxURLLength {
		return fmt.Errorf("%w: URL of %d bytes exceeds %d", ErrInvalid, len(s), MaxURLLength)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return fmt.Errorf("%w: URL contains whitespace or a control byte", ErrInvalid)
		}
	}
	return nil
}

// CheckClientID is the validation of client ids: 1..MaxIDLength bytes of
// valid UTF-8 without control characters. It returns an error wrapping
// ErrInvalid.
func CheckClientID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty client id", ErrInvalid)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: client id of %d bytes exceeds %d", ErrInvalid, len(id), MaxIDLength)
	}
	if !utf8Printable(id) {
		return fmt.Errorf("%w: client id contains control characters or invalid UTF-8", ErrInvalid)
	}
	return nil
}

func utf8Printable(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

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
