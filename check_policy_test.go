package lms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// rtTimeline runs Policy.Next over results, one check after the other at
// the due times the policy gives, and returns the reported outcomes.
func rtTimeline(p lms.Policy, results ...lms.Result) []lms.Outcome {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	link := lms.Link{URL: "http://example.org/", Host: "example.org"}
	var out []lms.Outcome
	for _, r := range results {
		o := p.Next(link, r, now, 0)
		out = append(out, o)
		link.State, link.Failures, link.NextDue = o.Result.State, o.Failures, o.NextDue
		now = o.NextDue
	}
	return out
}

// TestPolicyOnCheckResults: what the checkers answer, check after check →
// the states the default policy reports. want[i] is the state after check
// i, "not <state>" a state it must not be, "" unchecked.
func TestPolicyOnCheckResults(t *testing.T) {
	t.Parallel()
	walled := lms.Result{State: lms.StateTemporary, Failure: lms.FailureBlocked, Code: 429, Reason: "Too Many Requests"}
	glitch := lms.Result{State: lms.StateTemporary, Failure: lms.FailureTransient, Code: 502, Reason: "Bad Gateway"}
	notFound := lms.Result{State: lms.StateUnavailable, Failure: lms.FailureDefinitive, Code: 404, Reason: "Not Found"}
	for _, row := range []struct {
		name    string
		results []lms.Result
		want    []string
	}{
		// Failures built up behind a rate limit or a bot wall
		// (FailureBlocked, never red) confirm nothing: a single 502 of a
		// deploy after them is a glitch to confirm, as is a single 404.
		{"rate-limited thrice, then one 502", []lms.Result{walled, walled, walled, glitch},
			[]string{"", "", string(lms.StateTemporary), "not " + string(lms.StateUnavailable)}},
		{"rate-limited twice, then one 404", []lms.Result{walled, walled, notFound},
			[]string{"", "", "not " + string(lms.StateUnavailable)}},
	} {
		out := rtTimeline(lms.Policy{}, row.results...)
		for i, want := range row.want {
			got := out[i].Result.State
			switch {
			case want == "":
			case strings.HasPrefix(want, "not "):
				require.NotEqual(t, lms.State(strings.TrimPrefix(want, "not ")), got,
					"%s: check %d reported %s (Failures %d), unconfirmed", row.name, i+1, got, out[i].Failures)
			default:
				require.Equal(t, lms.State(want), got, "%s: check %d", row.name, i+1)
			}
		}
	}
}
