// Package logsafe makes values from outside safe to log: bounded in length
// and without credentials.
package logsafe

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxValue is the most bytes Value keeps of a logged value.
const MaxValue = 200

// Value returns s cut to at most MaxValue bytes (on a rune boundary, with
// "…" and the full length appended when cut).
func Value(s string) string {
	if len(s) <= MaxValue {
		return s
	}
	cut := MaxValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + itoa(len(s)) + " bytes)"
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// URL returns s with the password of its user information (and any
// user-only credential) replaced by "…", cut like Value. Strings that do not
// parse are cut only.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return Value(s)
	}
	u.User = url.User("…")
	return Value(strings.Replace(u.String(), "%E2%80%A6@", "…@", 1))
}
