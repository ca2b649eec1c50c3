package browser

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Escape returns a link or a Location as a browser sends it, so that Go's
// parser takes what browsers take and the request line carries what
// browsers put there: leading and trailing spaces dropped, a "%" that
// starts no escape ("50%-off") sent as "%25", and spaces, '"', '<', '>' and
// bytes beyond ASCII percent-encoded (Go leaves them raw in a query, where
// servers refuse a raw space). Everything else stays byte for byte.
func Escape(raw string) string {
	raw = strings.TrimSpace(raw)
	clean := true
	for i := 0; i < len(raw) && clean; i++ {
		clean = !needsEscape(raw, i)
	}
	if clean {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if needsEscape(raw, i) {
			fmt.Fprintf(&b, "%%%02X", raw[i])
		} else {
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

// needsEscape reports whether Escape encodes raw[i].
func needsEscape(raw string, i int) bool {
	switch c := raw[i]; {
	case c == '%':
		return i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2])
	case c == ' ', c == '"', c == '<', c == '>', c >= 0x80:
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ErrNotIPv4 is a host that ends in a number but is no IPv4 address.
var ErrNotIPv4 = errors.New("the host ends in a number but is no IPv4 address")

// RewriteHost rewrites u's host as browsers read it (Host) and reports
// whether it changed; ok is false if browsers refuse the host.
func RewriteHost(u *url.URL) (changed, ok bool) {
	h := u.Hostname()
	b, ok := Host(h)
	switch {
	case !ok:
		return false, false
	case b == h:
		return false, true
	case u.Port() != "":
		u.Host = net.JoinHostPort(b, u.Port())
	default:
		u.Host = b
	}
	return true, true
}

// Host returns host as browsers read the host of an http(s) URL (WHATWG
// URL Standard: the "ends in a number" checker and the IPv4 parser). A host
// whose last label is a number is an IPv4 address in any of the forms
// browsers still accept: shorthand (127.1), hex or octal parts (0x7f.1,
// 0177.0.0.1), one number (2130706433), a trailing dot; it is returned as
// the dotted quad. If it is no IPv4 address (127.0.0.256, example.123), ok
// is false: browsers refuse the URL. Other hosts (names, IPv6 literals)
// come back unchanged.
func Host(host string) (_ string, ok bool) {
	if strings.Contains(host, ":") {
		return host, true // IPv6
	}
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return host, true
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if _, number := ipv4Number(last); !number && !digits(last) {
		return host, true // a name
	}
	if len(parts) > 4 {
		return "", false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return "", false
		}
		nums[i] = n
	}
	ip := nums[len(nums)-1]
	if ip >= 1<<(8*(5-len(nums))) {
		return "", false
	}
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return "", false
		}
		ip += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String(), true
}

// ipv4Number parses one part of an IPv4 address as browsers do: "0x"
// starts a hex number ("0x" alone is 0), another leading "0" an octal one,
// anything else is decimal. A number too large for 64 bits is
// math.MaxUint64 (still a number, but no part of an address).
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(s, base, 64)
	if errors.Is(err, strconv.ErrRange) {
		return math.MaxUint64, true
	}
	return n, err == nil
}

// digits reports whether s is ASCII digits only.
func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ValidPort reports whether p is empty or a port number browsers accept
// (1 to 65535).
func ValidPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// DialAddr returns addr ("host:port") as it is dialled: a host name with a
// trailing dot is looked up without it, as browsers do. It names the same
// host, and Go's resolver would not find a one-label name such as
// "localhost." in the hosts file.
func DialAddr(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil && len(host) > 1 && strings.HasSuffix(host, ".") {
		return net.JoinHostPort(strings.TrimSuffix(host, "."), port)
	}
	return addr
}
