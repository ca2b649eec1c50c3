package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// The sessions of the report pages. An editor signs in at /report/login
// with the client id and its password, or with one of the client's API
// tokens; the session travels in a cookie signed with a key derived from
// the admin secret (so that every process of a deployment accepts it, and
// none can be forged without the secret), HttpOnly, SameSite=Strict,
// Secure when the request came over TLS, limited to /report and expiring
// after sessionTTL. The cookie also carries a fingerprint of what signed
// in (the password's hash, or the token's): a new password or a revoked
// token ends the sessions it opened at their next request.

const (
	sessionCookie = "lms_report"
	sessionTTL    = 8 * time.Hour
	sessionPath   = "/report"
)

// session is a signed-in client.
type session struct {
	ClientID string
	Expires  time.Time
	Cred     string // "p:" or "t:" and a fingerprint of the credential
	payload  string // as signed (the CSRF token is derived from it)
}

// sessionKeyFor derives the signing key of sessions from the admin
// secret; without one, a random key (sessions then hold in this process
// only).
func sessionKeyFor(adminSecret string) []byte {
	if adminSecret == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
		return k
	}
	m := hmac.New(sha256.New, []byte(adminSecret))
	m.Write([]byte("lms report session key v1"))
	return m.Sum(nil)
}

func (u *UI) sessionMAC(parts ...string) []byte {
	m := hmac.New(sha256.New, u.sessionKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// fingerprint is a short keyed hash of a stored credential (a password or
// token hash), so the cookie reveals nothing of it.
func (u *UI) fingerprint(kind, hash string) string {
	return kind + hex.EncodeToString(u.sessionMAC("cred", kind, hash)[:12])
}

// setSession signs s into the session cookie.
func (u *UI) setSession(w http.ResponseWriter, r *http.Request, s session) {
	payload := strings.Join([]string{"v1", s.ClientID, strconv.FormatInt(s.Expires.Unix(), 10), s.Cred}, "\n")
	b64 := base64.RawURLEncoding
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(u.sessionMAC("session", payload)),
		Path: sessionPath, Expires: s.Expires, MaxAge: int(time.Until(s.Expires) / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: sessionPath, MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// readSession returns the request's session if its cookie is validly
// signed, unexpired, and its credential still stands.
func (u *UI) readSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	p64, m64, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, false
	}
	b64 := base64.RawURLEncoding
	payload, err1 := b64.DecodeString(p64)
	mac, err2 := b64.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, u.sessionMAC("session", string(payload))) {
		return session{}, false
	}
	f := strings.Split(string(payload), "\n")
	if len(f) != 4 || f[0] != "v1" {
		return session{}, false
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return session{}, false
	}
	s := session{ClientID: f[1], Expires: time.Unix(exp, 0), Cred: f[3], payload: string(payload)}
	cl, err := u.e.Client(r.Context(), s.ClientID)
	if err != nil {
		return session{}, false
	}
	if s.Cred == u.fingerprint("p:", cl.PasswordHash) {
		return s, true
	}
	for _, t := range cl.Tokens {
		if s.Cred == u.fingerprint("t:", t.Hash) {
			return s, true
		}
	}
	return session{}, false // a new password, or the token was revoked
}

// csrfOf is the CSRF token of the report pages' forms: bound to the
// session.
func (u *UI) csrfOf(s session) string {
	return hex.EncodeToString(u.sessionMAC("csrf", s.payload))
}

// signIn checks the credentials of the login form through the guard's
// throttles (per client id and per source address, the same budgets as
// the API's), and returns the session they open. Wrong credentials of any
// kind are lms.ErrUnauthorized, alike; a throttled attempt
// guard.ErrThrottled.
func (u *UI) signIn(ctx context.Context, addr, id, password, token string) (session, error) {
	var cred string
	switch {
	case token != "":
		tid, ok := lms.TokenClient(token)
		if !ok || (id != "" && id != tid) {
			return session{}, lms.ErrUnauthorized
		}
		id = tid
		err := u.guard.Throttle.Check(ctx, addr, "client\x00"+id, token, func() error {
			_, err := u.e.AuthenticateToken(ctx, token)
			return err
		})
		if err != nil {
			return session{}, err
		}
		// The token's record, for the fingerprint: the one whose hash is
		// the token's.
		sum := sha256.Sum256([]byte(token))
		cred = u.fingerprint("t:", "sha256:"+hex.EncodeToString(sum[:]))
	case id != "" && password != "":
		err := u.guard.Throttle.Check(ctx, addr, "client\x00"+id, password, func() error { return u.e.Authenticate(ctx, id, password) })
		if err != nil {
			return session{}, err
		}
		c, err := u.e.Client(ctx, id)
		if err != nil {
			return session{}, err
		}
		cred = u.fingerprint("p:", c.PasswordHash)
	default:
		return session{}, lms.ErrUnauthorized
	}
	return session{ClientID: id, Expires: time.Now().Add(sessionTTL), Cred: cred}, nil
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.readSession(r); ok {
		http.Redirect(w, r, "/report/", http.StatusSeeOther)
		return
	}
	u.render(w, http.StatusOK, "login", map[string]any{"Title": "Sign in"})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	id := strings.TrimSpace(r.PostForm.Get("id"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	s, err := u.signIn(r.Context(), guard.SourceKey(r), id, r.PostForm.Get("password"), token)
	switch {
	case errors.Is(err, guard.ErrThrottled):
		secs := int(u.guard.RetryAfter().Seconds())
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.render(w, http.StatusTooManyRequests, "login", map[string]any{"Title": "Sign in", "ID": id,
			"Error": "Too many failed sign-ins. Please wait " + strconv.Itoa(secs) + " seconds and try again."})
	case errors.Is(err, lms.ErrUnauthorized), errors.Is(err, lms.ErrNotFound), errors.Is(err, lms.ErrInvalid):
		u.render(w, http.StatusUnauthorized, "login", map[string]any{"Title": "Sign in", "ID": id,
			"Error": "Sign-in failed: the client id and password, or the token, are not right."})
	case err != nil:
		u.fail(w, err)
	default:
		u.setSession(w, r, s)
		http.Redirect(w, r, "/report/", http.StatusSeeOther)
	}
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := u.readSession(r)
	if ok && !u.checkSessionForm(w, r, s) {
		return
	}
	clearSession(w, r)
	http.Redirect(w, r, "/report/login", http.StatusSeeOther)
}

// checkSessionForm parses a bounded form of the report pages and verifies
// its CSRF token against the session.
func (u *UI) checkSessionForm(w http.ResponseWriter, r *http.Request, s session) bool {
	return u.parseForm(w, r, u.csrfOf(s))
}

type sessionKey struct{}

// withSession serves next only to a signed-in client: others are sent to
// the sign-in page (GET) or refused (any other method).
func (u *UI) withSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := u.readSession(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/report/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "403 Forbidden: please sign in again", http.StatusForbidden)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

func sessionOf(ctx context.Context) session {
	s, _ := ctx.Value(sessionKey{}).(session)
	return s
}
