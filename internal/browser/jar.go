package browser

import (
	"hash/fnv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"

	"golang.org/x/net/publicsuffix"
)

// Jar is the cookie jar of one visit: a browser's rules (the public
// suffix list included), at most a fixed number of cookies. The underlying
// jar is made at the first cookie. It is not safe for concurrent use.
type Jar struct {
	jar  *cookiejar.Jar
	left int
}

// NewJar returns an empty jar that keeps at most max cookies.
func NewJar(max int) *Jar { return &Jar{left: max} }

// Full reports whether the jar takes no more cookies (a caller may then
// skip parsing them).
func (j *Jar) Full() bool { return j.left <= 0 }

// SetCookies implements http.CookieJar.
func (j *Jar) SetCookies(u *url.URL, cs []*http.Cookie) {
	cs = cs[:min(len(cs), j.left)]
	j.left -= len(cs)
	if len(cs) == 0 {
		return
	}
	if j.jar == nil {
		j.jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List}) // never fails
	}
	j.jar.SetCookies(u, cs)
}

// Cookies implements http.CookieJar.
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	if j.jar == nil {
		return nil
	}
	return j.jar.Cookies(u)
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
