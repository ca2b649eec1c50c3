package loop

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A busy client gets no second job, a full lane takes none, another lane
// does.
func TestWorkers(t *testing.T) {
	t.Parallel()
	w := NewWorkers(1, 1)
	release := make(chan struct{})
	started := make(chan string, 4)
	job := func(id string) func() {
		return func() { started <- id; <-release }
	}
	w.Try("a", 0, job("a"))
	if got := <-started; got != "a" {
		t.Fatalf("started %s", got)
	}
	w.Try("a", 1, job("a again")) // busy
	w.Try("b", 0, job("b"))       // lane 0 full
	w.Try("c", 1, job("c"))
	if got := <-started; got != "c" {
		t.Fatalf("started %s, want c", got)
	}
	close(release)
	w.Wait()
	if len(started) != 0 {
		t.Errorf("started %s as well", <-started)
	}
	w.Try("a", 0, func() { started <- "a, done before" })
	w.Wait()
	if got := <-started; got != "a, done before" {
		t.Errorf("a job after the first ended: %s", got)
	}
}

// Rounds runs at once and on every wake-up (and on every poll, which the
// engine's tests exercise), until ctx ends.
func TestRounds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		wake := make(chan struct{}, 1)
		var n atomic.Int32
		done := make(chan struct{})
		go func() { Rounds(ctx, time.Minute, wake, func() { n.Add(1) }); close(done) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()
		if got := n.Load(); got != 1 {
			t.Fatalf("%d rounds at the start, want 1", got)
		}
		Poke(wake)
		synctest.Wait()
		if got := n.Load(); got != 2 {
			t.Fatalf("%d rounds after a poke, want 2", got)
		}
	})
}

// Poke never blocks: a wake-up already waiting is enough.
func TestPoke(t *testing.T) {
	t.Parallel()
	wake := make(chan struct{}, 1)
	Poke(wake)
	Poke(wake)
	if len(wake) != 1 {
		t.Errorf("%d wake-ups waiting, want 1", len(wake))
	}
}
