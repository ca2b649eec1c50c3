package check

import (
	"net/mail"
	"net/url"
	"strings"
)

// Mailto checks a mailto: URL by syntax only (RFC 6068): every
// address, before the '?' and in "to" fields, must parse, and there must be
// at least one. It makes no connection.
func Mailto(rawURL string) Result {
	bad := Result{State: StateUnavailable, Failure: FailureDefinitive, Reason: "No valid email address"}
	_, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return bad
	}
	path, query, _ := strings.Cut(rest, "?")
	path, err := url.PathUnescape(path)
	if err != nil {
		return bad
	}
	var addrs []string
	if strings.TrimSpace(path) != "" {
		addrs = strings.Split(path, ",")
	}
	fields, _ := url.ParseQuery(query) // other fields ("body=100%") are not ours to judge
	for k, vs := range fields {
		if strings.EqualFold(k, "to") {
			for _, v := range vs {
				addrs = append(addrs, strings.Split(v, ",")...)
			}
		}
	}
	if len(addrs) == 0 {
		return bad
	}
	for _, a := range addrs {
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
