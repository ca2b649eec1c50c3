package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// prune calls PruneHosts until it removes fewer than a batch and returns
// how many it removed in all.
func prune(t *testing.T, s lms.Store, now time.Time) int {
	t.Helper()
	total := 0
	for {
		n, err := s.PruneHosts(ctx(), now, 3)
		if err != nil {
			t.Fatalf("PruneHosts: %v", err)
		}
		total += n
		if n < 3 {
			return total
		}
	}
}

// testPruneHosts: hosts that only redirect hops (HoldHost) and back-offs
// (DeferHost) named are forgotten once their hold and back-off have ended,
// and not before; hosts of links are kept, with their back-off.
func testPruneHosts(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://linked.example/1")
	hops := make([]string, 8)
	for i := range hops {
		hops[i] = fmt.Sprintf("hop%d.example", i)
		if _, ok, err := s.HoldHost(ctx(), "p1", hops[i], t0, time.Minute); err != nil || !ok {
			t.Fatalf("HoldHost(%s) = %v, %v", hops[i], ok, err)
		}
	}
	if err := s.DeferHost(ctx(), "resting.example", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeferHost(ctx(), "gone.example", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeferHost(ctx(), "linked.example", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A shorter hold by the same holder does not shorten its hold.
	if _, ok, err := s.HoldHost(ctx(), "p1", hops[7], t0.Add(time.Second), time.Second); err != nil || !ok {
		t.Fatalf("HoldHost again = %v, %v", ok, err)
	}
	if _, ok, _ := s.HoldHost(ctx(), "p2", hops[7], t0.Add(30*time.Second), time.Minute); ok {
		t.Errorf("p2 took %s: p1's hold was shortened by a shorter one", hops[7])
	}
	if n := prune(t, s, t0.Add(30*time.Second)); n != 0 {
		t.Errorf("pruned %d hosts while their holds last", n)
	}
	// Held by p1 until t0+1m: another holder may not take a host before,
	// pruned or not.
	if _, ok, _ := s.HoldHost(ctx(), "p2", hops[0], t0.Add(30*time.Second), time.Minute); ok {
		t.Errorf("p2 took %s while p1 holds it", hops[0])
	}
	// A store that keeps no record of a hold has no hop to forget.
	if n := prune(t, s, t0.Add(2*time.Minute)); n > len(hops) {
		t.Errorf("pruned %d hosts once the holds ended, want at most the %d hops", n, len(hops))
	}
	if n := prune(t, s, t0.Add(3*time.Minute)); n != 0 {
		t.Errorf("pruned %d more hosts with resting.example and gone.example still resting", n)
	}
	// resting.example keeps its back-off: a link registered there now is
	// not claimed before it ends.
	mustSubscribe(t, s, "a", "http://resting.example/1")
	for _, l := range claim(t, s, t0.Add(4*time.Minute), 10, 5) {
		if l.Host == "resting.example" {
			t.Errorf("claimed %s during its host's back-off, which pruning lost", l.URL)
		}
	}
	// A host of links is never forgotten: its link is still claimed, once.
	if n := prune(t, s, t0.Add(2*time.Hour)); n != 1 {
		t.Errorf("pruned %d hosts after the back-offs, want gone.example alone", n)
	}
	got := claim(t, s, t0.Add(2*time.Hour), 10, 5)
	if len(got) != 2 {
		t.Errorf("claimed %v after pruning, want the links of linked.example and resting.example", urlsOf(got))
	}
	// A forgotten host is as new when it is named again.
	if _, ok, err := s.HoldHost(ctx(), "p2", hops[1], t0.Add(2*time.Hour), time.Minute); err != nil || !ok {
		t.Errorf("HoldHost of a pruned host = %v, %v", ok, err)
	}
	if _, err := s.PruneHosts(ctx(), t0, 0); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("PruneHosts with limit 0: %v, want ErrInvalid", err)
	}
}
