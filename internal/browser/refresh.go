package browser

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRefreshDelay is the longest refresh delay, in seconds, that RefreshURL
// follows: a page that moves on later is read by the person first.
const MaxRefreshDelay = 5

// RefreshURL returns the URL of a Refresh header's or a meta refresh's
// content ("0; url=/new", "3;URL='/new'") when its delay is at most
// MaxRefreshDelay seconds, else "".
func RefreshURL(content string) string {
	content = strings.TrimSpace(content)
	i := 0
	for i < len(content) && (content[i] >= '0' && content[i] <= '9' || content[i] == '.') {
		i++
	}
	delay, err := strconv.ParseFloat(content[:i], 64)
	if i == 0 || err != nil || delay > MaxRefreshDelay {
		return ""
	}
	rest := strings.TrimLeft(content[i:], " \t;,")
	if len(rest) >= 4 && strings.EqualFold(rest[:3], "url") {
		if r := strings.TrimLeft(rest[3:], " \t"); strings.HasPrefix(r, "=") {
			rest = strings.TrimSpace(r[1:])
		}
	}
	if len(rest) >= 2 && (rest[0] == '\'' || rest[0] == '"') {
		if j := strings.IndexByte(rest[1:], rest[0]); j >= 0 {
			rest = rest[1 : j+1]
		}
	}
	return strings.TrimSpace(rest)
}

// MetaRefresh returns the content of the first <meta http-equiv="refresh">
// in head that a browser with scripts obeys (one inside <noscript> is
// skipped), or "".
func MetaRefresh(head []byte) string {
	low := bytes.ToLower(head)
	for off := 0; ; {
		i := bytes.Index(low[off:], []byte("<meta"))
		if i < 0 {
			return ""
		}
		start := off + i
		end := bytes.IndexByte(low[start:], '>')
		if end < 0 {
			return ""
		}
		tag, ltag := head[start:start+end], low[start:start+end]
		off = start + end
		if !bytes.Contains(ltag, []byte("http-equiv")) || !bytes.Contains(ltag, []byte("refresh")) ||
			bytes.LastIndex(low[:start], []byte("<noscript")) > bytes.LastIndex(low[:start], []byte("</noscript")) {
			continue // a browser with scripts skips <noscript>
		}
		j := bytes.Index(ltag, []byte("content"))
		if j < 0 {
			continue
		}
		v := bytes.TrimLeft(tag[j+len("content"):], " \t\r\n")
		if len(v) == 0 || v[0] != '=' {
			continue
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
			if k := bytes.IndexByte(v[1:], v[0]); k >= 0 {
				return string(v[1 : k+1])
			}
			return ""
		}
		if k := bytes.IndexAny(v, " \t\r\n"); k >= 0 {
			v = v[:k]
		}
		return string(v)
	}
}

// RedirectCode reports whether code is a redirect a browser follows by its
// Location header.
func RedirectCode(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date)
// relative to now; 0 if absent or malformed. At most a year.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 365*86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
