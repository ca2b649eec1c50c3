package lms

import (
	"context"
	"net/mail"
	"net/url"
	"strings"
)

// checkMailto checks a mailto: URL by syntax only: every address before the
// '?' must parse. It makes no connection.
func checkMailto(_ context.Context, rawURL string) Result {
	bad := Result{State: StateUnavailable, Failure: FailureDefinitive, Reason: "No valid email address"}
	_, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return bad
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, err := url.PathUnescape(rest)
	if err != nil || strings.TrimSpace(rest) == "" {
		return bad
	}
	for _, a := range strings.Split(rest, ",") {
		addr, err := mail.ParseAddress(strings.TrimSpace(a))
		if err != nil {
			return bad
		}
		_, domain, _ := strings.Cut(addr.Address, "@")
		if domain == "" || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
			return bad
		}
	}
	return Result{State: StateOK, Reason: "Valid email address"}
}
