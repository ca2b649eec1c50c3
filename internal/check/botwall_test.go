package check

import (
	"testing"

	"github.com/linkmonitor/lms/internal/browser"
)

func TestBotCandidate(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{200: false, 301: false, 401: false, 403: true, 404: false, 406: true, 429: true, 430: true, 500: false, 503: false, 520: false, 599: false, 600: false, 700: false, 998: false, 999: true} {
		if got := botCandidate(&browser.Answer{Code: code}); got != want {
			t.Errorf("botCandidate(%d) = %v, want %v", code, got, want)
		}
	}
	if botCandidate(&browser.Answer{Code: 429, RetryAfter: 1}) {
		t.Error("a 429 with Retry-After is honoured, not retried")
	}
	if !botCandidate(&browser.Answer{Code: 503, Marker: "Cloudflare challenge"}) {
		t.Error("a marked 503 deserves the retry")
	}
}
