package lms

import (
	"bytes"
	"net/http"
	"strings"
)

// Bot walls. Many CDNs and big sites answer automated clients with 403,
// 429, 999 or a challenge page that a browser solves without the person
// noticing. The checker's first request is honest (its own User-Agent);
// an answer that may come from such a wall gets one retry with what a
// browser sends (browserHeaders), and a wall that stays is reported as
// "The site blocks automated checks", never as a broken link.

// maxMarkerBody is how much of an error body is searched for challenge
// markers.
const maxMarkerBody = 64 << 10

// botCandidate reports whether an answer may come from a bot wall, so that
// it deserves the browser-like retry: 403, 406 (ModSecurity's answer to
// clients it dislikes), 429 without Retry-After, 999 and other
// non-standard 4xx codes, and any failing answer with a marker. Other codes
// beyond 599 are no wall (statusResult).
func botCandidate(a *answer) bool {
	switch {
	case statusResult(a.code).State == StateOK: // 401 too
		return false
	case a.code == http.StatusTooManyRequests:
		return a.retryAfter == 0
	case a.marker != "", a.code == http.StatusForbidden, a.code == http.StatusNotAcceptable:
		return true
	}
	return wallCode(a.code)
}

// nonStandard reports whether code is not a registered HTTP status (999 is
// LinkedIn's answer to bots, 430 Shopify's, …).
func nonStandard(code int) bool { return http.StatusText(code) == "" }

// statusLinkedIn is LinkedIn's answer to clients it takes for bots.
const statusLinkedIn = 999

// wallCode reports whether a non-standard code is one that walls answer
// with: a 4xx, or 999. A code beyond 599 has no class, and a browser shows
// its page as whatever it is: it is judged like an unknown server error.
func wallCode(code int) bool {
	return nonStandard(code) && (code >= 400 && code < 500 || code == statusLinkedIn)
}

// blockingCode reports whether a final answer with this code may be a wall
// rather than the page's real state: a 404 served through a bot-protection
// CDN is still a 404.
func blockingCode(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotAcceptable,
		http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return wallCode(code)
}

// botMarker returns who put up the wall ("Cloudflare challenge", "DataDome",
// …) when the answer carries a bot-protection marker, or "". Markers that
// only name the vendor (a protected site sends them with every answer)
// count only for the codes walls answer with; challenge markers count for
// any code.
func botMarker(code int, h http.Header, body []byte) string {
	get := func(k string) string { return strings.ToLower(strings.TrimSpace(h.Get(k))) }
	server := get("Server")
	cookies := strings.ToLower(strings.Join(h.Values("Set-Cookie"), "\n"))
	switch {
	case get("Cf-Mitigated") == "challenge", h.Get("Cf-Chl-Bypass") != "":
		return "Cloudflare challenge"
	case get("X-Vercel-Mitigated") == "challenge", get("X-Vercel-Mitigated") == "deny":
		return "Vercel challenge"
	case get("X-Amzn-Waf-Action") != "":
		return "AWS WAF " + get("X-Amzn-Waf-Action")
	case h.Get("X-Sucuri-Block") != "":
		return "Sucuri firewall"
	}
	if m := bodyMarker(body); m != "" {
		return m
	}
	if !blockingCode(code) {
		return ""
	}
	switch {
	case bytes.Contains(bytes.ToLower(body), []byte("captcha")):
		return "a CAPTCHA page"
	case h.Get("X-Datadome") != "", h.Get("X-Datadome-Cid") != "", h.Get("X-Dd-B") != "", server == "datadome",
		strings.Contains(cookies, "datadome="):
		return "DataDome"
	case h.Get("X-Sucuri-Id") != "", strings.Contains(server, "sucuri"):
		return "Sucuri firewall"
	case h.Get("X-Iinfo") != "", strings.Contains(get("X-Cdn"), "incapsula"), strings.Contains(get("X-Cdn"), "imperva"),
		strings.Contains(cookies, "incap_ses_"), strings.Contains(cookies, "visid_incap_"):
		return "Imperva"
	case h.Get("X-Kpsdk-Ct") != "", h.Get("X-Kpsdk-Cd") != "":
		return "Kasada"
	case strings.Contains(cookies, "_pxhd="), h.Get("X-Px-Block") != "":
		return "HUMAN (PerimeterX)"
	case strings.HasPrefix(server, "akamaighost"), h.Get("Akamai-Grn") != "":
		return "Akamai"
	case server == "ddos-guard":
		return "DDoS-Guard"
	case h.Get("X-Distil-Cs") != "":
		return "Imperva"
	}
	return ""
}

// bodyMarkers are texts of challenge and block pages, lower case, with who
// puts them up.
func bodyMarkers() [][2]string {
	return [][2]string{
		{"<title>just a moment...</title>", "Cloudflare challenge"},
		{"<title>just a moment…</title>", "Cloudflare challenge"},
		{"attention required! | cloudflare", "Cloudflare"},
		{"cf-browser-verification", "Cloudflare challenge"},
		{"/cdn-cgi/challenge-platform/", "Cloudflare challenge"},
		{"_cf_chl_opt", "Cloudflare challenge"},
		{"captcha-delivery.com", "DataDome"},
		{"incapsula incident id", "Imperva"},
		{"_incapsula_resource", "Imperva"},
		{"pardon our interruption", "Imperva"},
		{"px-captcha", "HUMAN (PerimeterX)"},
		{"perimeterx", "HUMAN (PerimeterX)"},
		{"sucuri website firewall", "Sucuri firewall"},
		{"errors.edgesuite.net", "Akamai"},
		{"challenges.cloudflare.com", "Cloudflare challenge"},
		{"press &amp; hold", "HUMAN (PerimeterX)"},
		{"press & hold", "HUMAN (PerimeterX)"},
		{"distil_r_captcha", "Imperva"},
		{"generated by wordfence", "Wordfence"},
		{"your access to this site has been limited", "Wordfence"},
		{"www.google.com/recaptcha/", "a CAPTCHA page"},
		{"hcaptcha.com/1/api.js", "a CAPTCHA page"},
		{"checking your browser before accessing", "a challenge page"},
		{"verify you are human", "a challenge page"},
		{"verifying you are human", "a challenge page"},
		{"are you a robot", "a challenge page"},
		{"enable javascript and cookies to continue", "a challenge page"},
		{"please enable js and disable any ad blocker", "DataDome"},
		{"ddos protection by", "a challenge page"},
		{"api-services-support@amazon.com", "Amazon robot check"},
		{"/errors/validatecaptcha", "Amazon robot check"},
		{"not a robot", "a challenge page"},
	}
}

// bodyMarker returns who put up a challenge or block page, or "".
func bodyMarker(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	low := bytes.ToLower(body)
	for _, m := range bodyMarkers() {
		if bytes.Contains(low, []byte(m[0])) {
			return m[1]
		}
	}
	return ""
}

// browserHeaders sets what a current desktop Chrome sends when a person
// opens a link: Accept, Accept-Language, Accept-Encoding, the fetch
// metadata and, unless honest, Chrome's User-Agent and Client Hints.
func browserHeaders(h http.Header, cfg CheckerConfig) {
	h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8")
	h.Set("Accept-Language", "en-US,en;q=0.9")
	h.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	h.Set("Upgrade-Insecure-Requests", "1")
	h.Set("Sec-Fetch-Dest", "document")
	h.Set("Sec-Fetch-Mode", "navigate")
	h.Set("Sec-Fetch-Site", "none")
	h.Set("Sec-Fetch-User", "?1")
	if cfg.HonestRetry {
		h.Set("User-Agent", cfg.UserAgent)
		return
	}
	h.Set("User-Agent", cfg.BrowserUserAgent)
	if cfg.BrowserUserAgent == DefaultBrowserUserAgent {
		h.Set("Sec-Ch-Ua", `"Chromium";v="`+chromeMajor+`", "Google Chrome";v="`+chromeMajor+`", "Not_A Brand";v="99"`)
		h.Set("Sec-Ch-Ua-Mobile", "?0")
		h.Set("Sec-Ch-Ua-Platform", `"Windows"`)
	}
}
