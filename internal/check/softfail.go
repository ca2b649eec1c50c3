package check

import (
	"net/url"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/softfail"
)

// probeHosts is the most hosts whose answer to a made-up path a checker
// keeps (an entry is a few KiB at most).
const probeHosts = 10000

// judge looks at a working page (r ok, a 2xx final answer) for signs that
// it is alive but wrong: a soft 404, a parked or dead-hosting domain, a
// deep link sent to the home page (package softfail). When the page gives a
// reason to doubt it, the host's answer to a made-up path settles the
// doubt (see probe). Confirmed evidence makes the link unavailable (the
// Policy confirms it once like any definitive failure); weak evidence
// temporarily unavailable, never more (FailureDoubt).
func (h *httpRun) judge(link string, l landing, r Result) Result {
	an := softfail.Analyze(&softfail.Page{URL: link, Hops: l.hops, Status: l.a.Code, Header: l.a.Header, Body: l.a.Body})
	var probe *softfail.Analysis
	if an.Doubt() {
		probe = h.probe(link)
	}
	v := an.Verdict(probe)
	if !v.Found() {
		return r
	}
	r.Kind, r.Reason = v.Kind.String(), v.Reason
	if v.Strength == softfail.Confirmed {
		r.State, r.Failure = StateUnavailable, FailureDefinitive
	} else {
		r.State, r.Failure = StateTemporary, FailureDoubt
	}
	return r
}

// probe returns the analysis of link's host's answer to a made-up path:
// the one the checker keeps for the host (at most one probe per host per
// Config.ProbeInterval), or a new one, asked for like any request
// of the check (paced, redirects followed with hops of its own). When
// another check has the probe under way, it waits for that answer (within
// the check's time). It returns nil when there is none to be had in this
// interval: the probe failed, or the check's time ran out.
func (h *httpRun) probe(link string) *softfail.Analysis {
	o := origin(link) // sites on one host name but other ports or schemes answer apart
	a, may := h.c.probes.Lookup(o, time.Now())
	if !may && a == nil {
		// Another check has the probe under way: its answer comes sooner
		// than a second look at this link would.
		if ch := h.c.probes.Pending(o); ch != nil {
			select {
			case <-ch:
				a, may = h.c.probes.Lookup(o, time.Now())
			case <-h.ctx.Done():
			}
		}
	}
	if !may {
		return a
	}
	a = h.askProbe(link, h.c.key(link))
	h.c.probes.Store(o, a, time.Now()) // a failed probe too: not asked again this interval
	return a
}

// origin returns link's scheme, host and port, the key of its probe.
func origin(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// askProbe sends the probe of link's host (the politeness key host) and
// analyses its answer; nil if it could not be made or failed.
func (h *httpRun) askProbe(link, host string) *softfail.Analysis {
	pu, err := softfail.ProbeURL(link)
	if err != nil {
		return nil
	}
	u, err := url.Parse(pu)
	if err != nil {
		return nil
	}
	if err := h.pace(host); err != nil {
		return nil
	}
	name, budget := h.name, h.budget
	h.budget = softfail.MaxBody // its own, whatever the page took
	l, err := h.walk(pu, u, true)
	h.name, h.budget = name, budget
	if err != nil {
		return nil
	}
	return softfail.Analyze(&softfail.Page{URL: pu, Hops: l.hops, Status: l.a.Code, Header: l.a.Header, Body: l.a.Body})
}

// elsewhere reports whether a redirect to u (not http or https) is one a
// check follows: a hand-off to another program (mailto:, tel:, sms:,
// callto:) or an FTP address, checked with the FTP checker.
func elsewhere(u *url.URL) bool {
	switch u.Scheme {
	case "mailto", "tel", "sms", "callto", "ftp":
		return true
	}
	return false
}

// handOff is the result of a link that redirects to to, an address of
// another scheme (see elsewhere): an FTP address is checked like an ftp://
// link (paced like any request of the check); a mailto: or tel: address
// hands the reader to another program, which works for a person: ok.
func (h *httpRun) handOff(to *url.URL) Result {
	if to.Scheme == "ftp" {
		if err := h.pace(h.c.key(to.String())); err != nil {
			return h.fail(err)
		}
		h.name = to.Hostname()
		return h.c.ftp.Check(h.ctx, to.String())
	}
	what := "a phone app"
	if to.Scheme == "mailto" {
		what = "an e-mail program"
	}
	return Result{State: StateOK, Reason: "The link hands the reader to " + what + " (" + to.Scheme + ":)"}
}
