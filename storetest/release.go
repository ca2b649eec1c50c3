package storetest

import (
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// testReleaseHosts: a stopping process hands its hosts over at once, with
// their next allowed time; hosts it does not hold stay as they are.
func testReleaseHosts(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://h.example/1", "http://h.example/2", "http://k.example/1")
	got := claimAs(t, s, "p1", t0) // one link of each host, held for a minute
	if len(got) != 2 {
		t.Fatalf("claim = %v, want one link of each host", urlsOf(got))
	}
	// p1 stops: its queued links are due again at once, its hosts released;
	// h.example may be asked again from t0+10s on.
	var hold []lms.Outcome
	for _, l := range got {
		hold = append(hold, lms.Outcome{URL: l.URL, Hold: true, NextDue: t0})
	}
	record(t, s, hold...)
	// p2 releasing what p1 holds changes nothing.
	if err := s.ReleaseHosts(ctx(), "p2", []lms.HostRelease{{Host: "h.example"}, {Host: "k.example"}}); err != nil {
		t.Fatal(err)
	}
	if got := claimAs(t, s, "p2", t0.Add(time.Second)); len(got) != 0 {
		t.Fatalf("p2 claimed %v of hosts p1 holds after p2's release", urlsOf(got))
	}
	if err := s.ReleaseHosts(ctx(), "p1", []lms.HostRelease{{Host: "h.example", NotBefore: t0.Add(10 * time.Second)}, {Host: "k.example"}, {Host: "unknown.example"}, {Host: ""}}); err != nil {
		t.Fatal(err)
	}
	got = claimAs(t, s, "p2", t0.Add(2*time.Second))
	if len(got) != 1 || got[0].Host != "k.example" {
		t.Errorf("p2's claim after the release = %v, want k.example's link (h.example waits for its next allowed time)", urlsOf(got))
	}
	nb, ok, err := s.HoldHost(ctx(), "p3", "h.example", t0.Add(3*time.Second), time.Minute)
	if err != nil || !ok || nb.Before(t0.Add(10*time.Second)) {
		t.Errorf("p3 HoldHost of the released host = %v, %v, %v; want ok, not before t0+10s", nb, ok, err)
	}
	if err := s.ReleaseHosts(ctx(), "p3", []lms.HostRelease{{Host: "h.example", NotBefore: t0.Add(10 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	got = claimAs(t, s, "p2", t0.Add(10*time.Second))
	if len(got) != 1 || got[0].Host != "h.example" {
		t.Errorf("p2's claim at the next allowed time = %v, want a link of h.example", urlsOf(got))
	}
}
