package check

import (
	"net/http"

	"github.com/linkmonitor/lms/internal/browser"
)

// Bot walls. Many CDNs and big sites answer automated clients with 403,
// 429, 999 or a challenge page that a browser solves without the person
// noticing. The checker's first request is honest (its own User-Agent);
// an answer that may come from such a wall gets one retry with what a
// browser sends (browserHeaders), and a wall that stays is reported as
// "The site blocks automated checks", never as a broken link.

// botCandidate reports whether an answer may come from a bot wall, so that
// it deserves the browser-like retry: 403, 406 (ModSecurity's answer to
// clients it dislikes), 429 without Retry-After, 999 and other
// non-standard 4xx codes, and any failing answer with a marker. Other codes
// beyond 599 are no wall (statusResult).
func botCandidate(a *browser.Answer) bool {
	switch {
	case statusResult(a.Code).State == StateOK: // 401 too
		return false
	case a.Code == http.StatusTooManyRequests:
		return a.RetryAfter == 0
	case a.Marker != "", a.Code == http.StatusForbidden, a.Code == http.StatusNotAcceptable:
		return true
	}
	return browser.WallCode(a.Code)
}

// browserHeaders sets what a current desktop Chrome sends when a person
// opens a link (browser.Headers): with Chrome's User-Agent and Client Hints
// by default, with cfg.BrowserUserAgent when set, with cfg.UserAgent and no
// hints when the retry is honest.
func browserHeaders(h http.Header, cfg Config) {
	switch {
	case cfg.HonestRetry:
		browser.Headers(h, cfg.UserAgent, "")
	case cfg.BrowserUserAgent == DefaultBrowserUserAgent:
		browser.Headers(h, cfg.BrowserUserAgent, chromeMajor)
	default:
		browser.Headers(h, cfg.BrowserUserAgent, "")
	}
}
