// Package logsafe makes values from outside safe to log: bounded in length
// and without credentials.
package logsafe

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
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

// URL returns s with its credentials hidden (see Redact), cut like Value.
func URL(s string) string { return Value(Redact(s)) }

// Redact hides the credentials of a URL: the password of
// scheme://user:password@host becomes "xxxxx" (as url.URL.Redacted writes
// it), and a user name alone (scheme://token@host, often a token) becomes
// "xxxxx" too. Strings that do not parse as a URL are searched for such
// URLs inside text (an error message, say), which are redacted the same way.
func Redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" && !strings.ContainsAny(s, " \t\n") {
		if u.User == nil {
			return s
		}
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		u.User = url.User("xxxxx")
		return u.String()
	}
	return urlCredentials.ReplaceAllString(s, "${1}xxxxx@")
}

// urlCredentials matches the credentials of a URL inside any text:
// scheme://[user:]secret@ (compiled once; never modified).
var urlCredentials = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/?#\s:@]*:)?)[^/?#\s@]+@`)

// Handler wraps inner so that every record is safe to write: string and
// error values are cut like Value (also inside groups), and warnings and
// errors with the same message are rate-limited: at most burst per every,
// the rest counted and reported as "suppressed" on the next one let
// through. Messages are the program's constant texts, so the limiter's
// memory is bounded by the program, not by its input.
func Handler(inner slog.Handler, burst int, every time.Duration) slog.Handler {
	return &handler{inner: inner, lim: &limiter{burst: burst, every: every, msgs: make(map[string]*window)}}
}

type handler struct {
	inner slog.Handler
	lim   *limiter
}

type limiter struct {
	burst int
	every time.Duration
	mu    sync.Mutex
	msgs  map[string]*window
}

type window struct {
	start      time.Time
	n          int
	suppressed int
}

// allow reports whether a record with msg at t may be written, and how many
// were suppressed before it.
func (l *limiter) allow(msg string, t time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.msgs[msg]
	if w == nil {
		w = &window{start: t}
		l.msgs[msg] = w
	}
	if t.Sub(w.start) >= l.every {
		w.start, w.n = t, 0
	}
	if w.n >= l.burst {
		w.suppressed++
		return false, 0
	}
	w.n++
	s := w.suppressed
	w.suppressed = 0
	return true, s
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	suppressed := 0
	if r.Level >= slog.LevelWarn {
		ok, n := h.lim.allow(r.Message, r.Time)
		if !ok {
			return nil
		}
		suppressed = n
	}
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(safeAttr(a))
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.inner.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	safe := make([]slog.Attr, len(as))
	for i, a := range as {
		safe[i] = safeAttr(a)
	}
	return &handler{inner: h.inner.WithAttrs(safe), lim: h.lim}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), lim: h.lim}
}

func safeAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Value(Redact(v.String())))
	case slog.KindGroup:
		g := v.Group()
		safe := make([]any, len(g))
		for i, x := range g {
			safe[i] = safeAttr(x)
		}
		return slog.Group(a.Key, safe...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Value(Redact(x.Error())))
		case fmt.Stringer:
			return slog.String(a.Key, Value(Redact(x.String())))
		case []byte:
			return slog.String(a.Key, Value(Redact(string(x))))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
