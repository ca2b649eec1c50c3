package softfail_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/linkmonitor/lms/internal/softfail"
)

// Example shows how a checker uses the detector after reading a page that
// answered 200: analyse it, probe a made-up path only when the page gives a
// reason to doubt it (and the host has no fresh probe), and map the verdict
// to a state.
func Example() {
	probes := softfail.NewProbeCache(24*time.Hour, 10000)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

	// What the check saw: a deep link sent to the site's root by a
	// temporary redirect.
	page := &softfail.Page{
		URL:    "https://example.org/news/2019/annual-report",
		Hops:   []softfail.Hop{{From: "https://example.org/news/2019/annual-report", Status: 302, Location: "/", To: "https://example.org/"}},
		Status: 200,
		Header: http.Header{"Content-Type": {"text/html"}},
		Body:   []byte("<title>Example</title><h1>Welcome</h1><p>Our home page.</p>"),
	}
	a := softfail.Analyze(page)
	fmt.Println("doubt:", a.Doubt())

	var probe *softfail.Analysis
	if a.Doubt() {
		cached, may := probes.Lookup("example.org", now)
		probe = cached
		if may {
			// https://example.org/news/2019/<20 random letters>, asked for
			// like any request (paced); the host sends it to its root too.
			u, _ := softfail.ProbeURL(page.URL)
			answer := &softfail.Page{
				URL:    u,
				Hops:   []softfail.Hop{{From: u, Status: 302, Location: "/", To: "https://example.org/"}},
				Status: 200,
				Body:   page.Body,
			}
			probe = softfail.Analyze(answer)
			probes.Store("example.org", probe, now)
		}
	}

	v := a.Verdict(probe)
	state := "ok"
	switch v.Strength {
	case softfail.Confirmed:
		state = "unavailable"
	case softfail.Weak:
		state = "temporary unavailable"
	}
	fmt.Printf("%s: %s (%s)\n", state, v.Reason, v.Kind)
	// Output:
	// doubt: true
	// unavailable: The link now leads to the site's home page (home_redirect)
}
