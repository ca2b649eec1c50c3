package browser

import (
	"hash/fnv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Size limits of the jar, a browser's.
const (
	// MaxCookieSize is the most bytes of a cookie's name and value
	// together: a longer cookie is dropped (RFC 6265bis §5.6, 4096 bytes,
	// as Chromium and Firefox do).
	MaxCookieSize = 4096
	// maxCookieAttr is the most bytes of a Domain or Path attribute: a
	// longer one is ignored (RFC 6265bis §5.6, 1024 bytes).
	maxCookieAttr = 1024
	// MaxHostCookies is the most cookies one host sets in a visit
	// (Chromium keeps 180 per domain).
	MaxHostCookies = 180
	// MaxHostCookieBytes is the most bytes of name and value one host's
	// cookies take together: beyond, its new cookies are dropped.
	MaxHostCookieBytes = 32 << 10
	// MaxCookieHeader is the most bytes of the Cookie header of one
	// request, room for one host's cookies whole: cookies that do not fit
	// (domain cookies of many hosts) are not sent, the most specific paths
	// and oldest cookies coming first.
	MaxCookieHeader = MaxHostCookieBytes + 4<<10
)

// Jar is the cookie jar of one visit: a browser's rules (the public
// suffix list included) and a browser's size limits (MaxCookieSize,
// MaxHostCookies, MaxHostCookieBytes), the Cookie header bounded
// (MaxCookieHeader), and at most a fixed number of cookies set in all. The
// underlying jar is made at the first cookie. It is not safe for
// concurrent use.
type Jar struct {
	jar  *cookiejar.Jar
	left int
	kept map[string]map[string]int // by setting host: name+value bytes by cookie identity
}

// NewJar returns an empty jar that takes at most max cookies in all.
func NewJar(max int) *Jar { return &Jar{left: max} }

// Full reports whether the jar takes no more cookies (a caller may then
// skip parsing them).
func (j *Jar) Full() bool { return j.left <= 0 }

// SetCookies implements http.CookieJar: cookies over a size limit are
// dropped (an attribute over its limit is ignored), the rest are kept.
func (j *Jar) SetCookies(u *url.URL, cs []*http.Cookie) {
	if j.kept == nil {
		j.kept = make(map[string]map[string]int)
	}
	host := u.Hostname()
	kept := j.kept[host]
	if kept == nil {
		kept = make(map[string]int)
		j.kept[host] = kept
	}
	used := 0
	for _, n := range kept {
		used += n
	}
	var ok []*http.Cookie
	for _, c := range cs {
		if j.left <= 0 {
			break
		}
		size := len(c.Name) + len(c.Value)
		if size > MaxCookieSize {
			continue
		}
		if len(c.Domain) > maxCookieAttr || len(c.Path) > maxCookieAttr {
			cc := *c
			if len(cc.Domain) > maxCookieAttr {
				cc.Domain = ""
			}
			if len(cc.Path) > maxCookieAttr {
				cc.Path = ""
			}
			c = &cc
		}
		id := c.Domain + "\x00" + c.Path + "\x00" + c.Name
		old, had := kept[id]
		if c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()) {
			// A deletion: it frees its room.
			if had {
				delete(kept, id)
				used -= old
			}
			ok = append(ok, c)
			continue
		}
		if used-old+size > MaxHostCookieBytes || !had && len(kept) >= MaxHostCookies {
			continue
		}
		kept[id], used = size, used-old+size
		j.left--
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		return
	}
	if j.jar == nil {
		j.jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List}) // never fails
	}
	j.jar.SetCookies(u, ok)
}

// Cookies implements http.CookieJar: the cookies to send to u, as many as
// fit in a Cookie header of MaxCookieHeader bytes.
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	if j.jar == nil {
		return nil
	}
	cs := j.jar.Cookies(u)
	size := 0
	for i, c := range cs {
		if size += len(c.Name) + len(c.Value) + 3; size > MaxCookieHeader { // "; " and "="
			return cs[:i]
		}
	}
	return cs
}

// Key identifies a request for loop detection: the address and the cookies
// the jar sends with it. A redirect chain that asks the same key twice is a
// loop; the same address with new cookies is not.
func (j *Jar) Key(u *url.URL) uint64 {
	f := fnv.New64a()
	_, _ = io.WriteString(f, u.String())
	for _, c := range j.Cookies(u) {
		_, _ = io.WriteString(f, "\x00"+c.Name+"="+c.Value)
	}
	return f.Sum64()
}
