package pace

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestPacerSpacesFromTheAnswer: a request waits for the interval (and the
// margin) after the previous one was answered; a back-off holds longer;
// the key "" is never paced.
func TestPacerSpacesFromTheAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := New(time.Second)
		const margin = 2 * time.Millisecond
		start := time.Now()
		if err := p.Wait(ctx, "a"); err != nil || time.Since(start) != 0 {
			t.Fatalf("first request: %v after %v, want at once", err, time.Since(start))
		}
		<-time.After(300 * time.Millisecond) // the answer takes 300 ms of the bubble's virtual time
		p.Done("a")
		if err := p.Wait(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), 1300*time.Millisecond+margin; got != want {
			t.Fatalf("second request after %v, want %v (interval from the answer)", got, want)
		}
		if err := p.Wait(ctx, ""); err != nil || time.Since(start) != 1300*time.Millisecond+margin {
			t.Fatalf(`key "": %v, waited`, err)
		}
		p.Defer("b", start.Add(time.Hour))
		if at := p.ReadyAt("b"); !at.Equal(start.Add(time.Hour)) {
			t.Fatalf("backed-off host ready at %v, want %v", at, start.Add(time.Hour))
		}
		if n := p.Prune(time.Now().Add(time.Minute)); n != 1 {
			t.Fatalf("Prune: %d hosts backed off, want 1", n)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := p.Wait(wctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("backed-off host: %v, want the deadline", err)
		}
	})
}

// fakeStore holds hosts for one other holder ("other") and records
// releases.
type fakeStore struct {
	notBefore time.Time
	held      []string
	released  []Release
	err       error // of HoldHost
	relErr    error // of Release
}

func (s *fakeStore) HoldHost(_ context.Context, holder, host string, _ time.Time, _ time.Duration) (time.Time, bool, error) {
	if s.err != nil {
		return time.Time{}, false, s.err
	}
	if host == "busy" {
		return time.Time{}, false, nil
	}
	s.held = append(s.held, host)
	return s.notBefore, true, nil
}

func (s *fakeStore) Release(_ context.Context, _ string, hosts []Release) error {
	if s.relErr != nil {
		return s.relErr
	}
	s.released = append(s.released, hosts...)
	return nil
}

// TestHolds: a claimed host is usable until the margin before its hold
// ends; another host is asked of the store (and a back-off it knows of
// rests the host); one another process holds is refused; stopping releases
// the held hosts with their next allowed times.
func TestHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		st := &fakeStore{notBefore: now.Add(time.Minute)}
		p := New(time.Second)
		h := NewHolds(HoldsConfig{Store: st, Pacer: p, Holder: "me", Lease: 10 * time.Minute, Margin: 30 * time.Second, Now: time.Now})
		h.Claimed("claimed", now.Add(time.Minute))
		if !h.Usable("claimed") || !h.Usable("") || h.Usable("other") {
			t.Fatal("Usable: want the claimed host and \"\" usable, another not")
		}
		if !h.Current(now.Add(31*time.Second)) || h.Current(now.Add(30*time.Second)) {
			t.Fatal("Current: a lease must outlast the margin")
		}
		if err := h.Acquire(ctx, "claimed"); err != nil || len(st.held) != 0 {
			t.Fatalf("Acquire of a held host: %v, asked the store for %v", err, st.held)
		}
		if err := h.Acquire(ctx, "hop"); err != nil || !h.Usable("hop") {
			t.Fatalf("Acquire of a free host: %v", err)
		}
		if at := p.ReadyAt("hop"); !at.Equal(st.notBefore) {
			t.Fatalf("the store's back-off: host ready at %v, want %v", at, st.notBefore)
		}
		if err := h.Acquire(ctx, "busy"); !errors.Is(err, ErrHostBusy) {
			t.Fatalf("Acquire of a host held by another process: %v, want ErrHostBusy", err)
		}
		st.err = errors.New("down")
		if err := h.Acquire(ctx, "x"); !errors.Is(err, st.err) {
			t.Fatalf("Acquire with the store down: %v", err)
		}
		if err := h.ReleaseAll(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]time.Time{}
		for _, r := range st.released {
			got[r.Host] = r.NotBefore
		}
		if len(got) != 2 || !got["claimed"].IsZero() || !got["hop"].Equal(st.notBefore) {
			t.Fatalf("released %v, want claimed (at once) and hop (after its back-off)", st.released)
		}
		if h.Usable("claimed") {
			t.Fatal("a released host is still usable")
		}
	})
}

// TestReleaseIdle: at a stop the hosts no request uses go back at once;
// one a request Acquire let start stays held until Done, one in busy (a
// check in flight) too; a host released and asked for again is held anew
// through the store; what the store could not take back stays held.
func TestReleaseIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		st := &fakeStore{}
		h := NewHolds(HoldsConfig{Store: st, Pacer: New(time.Second), Holder: "me", Lease: 10 * time.Minute, Margin: 30 * time.Second, Now: time.Now})
		for _, host := range []string{"idle", "hop", "checked"} {
			h.Claimed(host, now.Add(time.Hour))
		}
		if err := h.Acquire(ctx, "hop"); err != nil {
			t.Fatal(err)
		}
		if err := h.ReleaseIdle(ctx, map[string]bool{"checked": true}); err != nil {
			t.Fatal(err)
		}
		if len(st.released) != 1 || st.released[0].Host != "idle" {
			t.Fatalf("released %v, want idle only", st.released)
		}
		if h.Usable("idle") || !h.Usable("hop") || !h.Usable("checked") {
			t.Fatal("after ReleaseIdle: want idle given up, hop and checked still held")
		}
		h.Done("hop")
		if err := h.ReleaseIdle(ctx, map[string]bool{"checked": true}); err != nil {
			t.Fatal(err)
		}
		if len(st.released) != 2 || st.released[1].Host != "hop" {
			t.Fatalf("released %v, want hop next, once its request is done", st.released)
		}
		if err := h.Acquire(ctx, "idle"); err != nil || len(st.held) != 1 || st.held[0] != "idle" {
			t.Fatalf("Acquire of a released host: %v, store asked for %v; want it held anew", err, st.held)
		}
		h.Done("idle")
		st.relErr = errors.New("down")
		if err := h.ReleaseIdle(ctx, nil); err == nil {
			t.Fatal("ReleaseIdle with the store down: no error")
		}
		if !h.Usable("idle") || !h.Usable("checked") {
			t.Fatal("a release the store refused: want the hosts still held, to be released later")
		}
	})
}
