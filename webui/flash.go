package webui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Flash messages ("Client x added…") travel from an admin action to the
// page it redirects to in a cookie signed with a key derived from the admin
// secret, never in the URL: a crafted link cannot make the admin pages say
// anything, and the contact address in a message does not end up in
// browser history or access logs. A message is shown once (the page that
// shows it clears the cookie) and expires after flashMaxAge.

const (
	flashCookie = "lms_flash"
	flashMaxAge = time.Minute
)

// flashKey derives the signing key from the admin secret.
func flashKey(adminSecret string) []byte {
	m := hmac.New(sha256.New, []byte(adminSecret))
	m.Write([]byte("lms flash key v1"))
	return m.Sum(nil)
}

func flashMAC(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (u *UI) flashMAC(payload string) []byte { return flashMAC(u.flashKey, payload) }

// setFlash makes msg the flash message of the next admin page.
func (u *UI) setFlash(w http.ResponseWriter, msg string) { setFlashAt(w, "/admin", u.flashKey, msg) }

// takeFlash returns the admin request's flash message (see takeFlashAt).
func (u *UI) takeFlash(w http.ResponseWriter, r *http.Request) string {
	return takeFlashAt(w, r, "/admin", u.flashKey)
}

// setFlashAt makes msg the flash message of the next page under path,
// signed with key.
func setFlashAt(w http.ResponseWriter, path string, key []byte, msg string) {
	payload := strconv.FormatInt(time.Now().Add(flashMaxAge).Unix(), 10) + "|" + msg
	b64 := base64.RawURLEncoding
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(flashMAC(key, payload)),
		Path: path, MaxAge: int(flashMaxAge / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// takeFlashAt returns the request's flash message if its signature (by
// key) is valid and it has not expired, and clears the cookie of path;
// else "".
func takeFlashAt(w http.ResponseWriter, r *http.Request, path string, key []byte) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: path, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	p64, m64, ok := strings.Cut(c.Value, ".")
	if !ok {
		return ""
	}
	b64 := base64.RawURLEncoding
	payload, err1 := b64.DecodeString(p64)
	mac, err2 := b64.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, flashMAC(key, string(payload))) {
		return ""
	}
	exp, msg, ok := strings.Cut(string(payload), "|")
	t, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || time.Now().Unix() > t {
		return ""
	}
	return msg
}
