// Package browser holds the mechanics of reading the web the way a
// browser does, apart from any judgement of what an answer means: how
// browsers escape a URL and read its host (127.1, 0x7f.1, a trailing dot),
// when a page sends the browser on (Refresh header, meta refresh), what
// marks a bot wall and which headers a browser sends, a tolerant reader of
// sloppy HTTP response heads, TLS verified like Chrome (fetching missing
// intermediates by AIA), gzip and deflate decoded as browsers decode them,
// and the cookie jar of one visit; and what one visit may spend (Visit):
// the bytes it reads on the wire, its AIA fetches, each paced as a request
// to its host.
//
// It imports nothing of the lms root package; the checkers of package
// check (internal/check) turn what it reads into link states and reasons.
package browser
