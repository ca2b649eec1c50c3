// Package validate holds the one set of input rules that the Engine, every
// Store and the callback client apply: what a link URL is, what a callback
// URL is, and what a client id is. The functions return plain errors that
// say what is wrong; callers wrap them with lms.ErrInvalid.
package validate

import (
	"errors"
	"fmt"
	"net/url"
)

// Limits on identifiers.
const (
	// MaxURLLength is the longest URL string accepted, in bytes.
	MaxURLLength = 8 << 10
	// MaxIDLength is the longest client id accepted, in bytes.
	MaxIDLength = 256
)

// URL returns nil if s is acceptable as a link the way the protocol defines
// it: an ASCII URI, a scheme of letters, digits, '+', '-' and '.' followed
// by ':' and printable non-whitespace characters only, at most MaxURLLength
// bytes. registerURLs drops strings that fail it; a Store refuses them.
func URL(s string) error {
	if s == "" {
		return errors.New("empty URL")
	}
	if len(s) > MaxURLLength {
		return fmt.Errorf("URL of %d bytes exceeds %d", len(s), MaxURLLength)
	}
	colon := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return errors.New("URL contains whitespace, a control byte or a non-ASCII byte")
		}
		if colon >= 0 {
			continue
		}
		switch {
		case c == ':':
			if i == 0 {
				return errors.New("URL has no scheme")
			}
			colon = i
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '+', c == '-', c == '.':
		default:
			return errors.New("URL has no scheme")
		}
	}
	if colon < 0 {
		return errors.New("URL has no scheme")
	}
	return nil
}

// URLs returns the valid strings of in, de-duplicated, in first-seen order:
// how registerURLs and the syncer clean client input.
func URLs(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if URL(s) != nil {
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

// CallbackURL returns nil if s is a valid link URL with scheme http or
// https and a host. Whether its address may be reached is decided when
// calling.
func CallbackURL(s string) error {
	if err := URL(s); err != nil {
		return fmt.Errorf("callback URL: %w", err)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("callback URL %.40q: want an http or https URL", s)
	}
	return nil
}

// ClientID returns nil if id is 1..MaxIDLength bytes of valid UTF-8
// without control characters.
func ClientID(id string) error {
	if id == "" {
		return errors.New("empty client id")
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("client id of %d bytes exceeds %d", len(id), MaxIDLength)
	}
	for _, r := range id {
		if r == 0xFFFD || r < ' ' || r == 0x7f {
			return errors.New("client id contains control characters or invalid UTF-8")
		}
	}
	return nil
}
