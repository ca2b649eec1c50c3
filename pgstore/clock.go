package pgstore

import (
	"context"
	"sync"
	"time"
)

// clockRefresh is how long one measurement of the database's clock is
// used before it is measured again (the drift of two quartz clocks over it
// is microseconds).
const clockRefresh = 5 * time.Second

// clockRecheck is how old a measurement of the database's clock may be
// for a change of the offset to be taken from it (see dbClock.check).
const clockRecheck = 100 * time.Millisecond

// clockJump is how far the offset must seem to move to be followed at
// once on an old measurement, by the calls that cannot measure again (see
// dbClock.check): no correction of a machine's clock steps it this far
// while it runs, a caller's clock set by hand (Config.Now) does.
const clockJump = time.Second

// clockSamples is how many round trips one measurement takes; the one
// with the shortest round trip is kept.
const clockSamples = 3

// clockTolerance is how far the offset between the caller's clock and the
// database's may move before the store follows it, and how close to zero
// it is taken as zero (see dbClock).
const clockTolerance = 2 * time.Millisecond

// dbClock keeps every time the store shares between processes in the
// database's clock, whatever the clocks of the processes say.
//
// Every time written to the database (a lease's end, a host's hold and next
// allowed time, a link's due time, a client's lease and bookkeeping) is in
// the database's clock, and every comparison of them with "now", in the
// statements and in the engine, is with the database's time. The caller's
// times are moved into the database's frame (t + offset) on the way in and
// back (t − offset) on the way out, so the engine compares them with its
// own clock unchanged.
//
// The offset, database minus caller, is measured at every call as dbNow −
// Options.Now(): dbNow is the database's clock_timestamp(), measured with a
// round trip every clockRefresh and carried forward on this process's
// monotonic clock (its error is half the shortest round trip, tens of
// microseconds on one machine); Options.Now is the caller's clock, read at
// the call (so a step of it, or a Config.Now that is minutes off, is
// followed at once). The store keeps an offset until it moves by more than
// clockTolerance, and takes one within clockTolerance of zero as zero, so
// that a time written and read back, by this Store or another, is the same
// time. What several processes compare is therefore off by at most the
// tolerance plus the measurement's error, not by their clocks' difference.
//
// One Store serves one clock: processes (or engines in a test) with
// different clocks open a Store each.
type dbClock struct {
	mu   sync.Mutex
	base time.Time     // local time (with its monotonic reading) of the sample
	db   int64         // the database's clock at base, Unix nanoseconds
	unc  time.Duration // half the round trip of the sample
	ok   bool          // a sample was taken
	off  int64         // the offset in use: database minus caller, nanoseconds
	// query reads the database's clock (Unix nanoseconds).
	query func(ctx context.Context) (int64, error)
	// local is this process's monotonic clock (time.Now).
	local func() time.Time
	// caller is the caller's clock (Options.Now).
	caller func() time.Time
}

// clockQuery reads the database's clock as Unix nanoseconds.
const clockQuery = `SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::int8 * 1000`

// sync measures the database's clock if the last measurement is older than
// clockRefresh (or there is none).
func (c *dbClock) sync(ctx context.Context) error {
	c.mu.Lock()
	fresh := c.ok && c.local().Sub(c.base) < clockRefresh
	c.mu.Unlock()
	if fresh {
		return nil
	}
	var best struct {
		base time.Time
		db   int64
		rtt  time.Duration
	}
	for i := range clockSamples {
		t0 := c.local()
		db, err := c.query(ctx)
		if err != nil {
			return err
		}
		rtt := c.local().Sub(t0)
		if i == 0 || rtt < best.rtt {
			best.base, best.db, best.rtt = t0.Add(rtt/2), db, rtt
		}
	}
	c.mu.Lock()
	c.base, c.db, c.unc, c.ok = best.base, best.db, best.rtt/2+time.Microsecond, true
	c.mu.Unlock()
	return nil
}

// frame is the translation between the caller's clock and the database's,
// for one call.
type frame struct {
	off int64 // database minus caller, nanoseconds
}

// frame returns the frame of the caller's clock now.
func (c *dbClock) frame() frame {
	f, _ := c.check(false)
	return f
}

// check returns the frame of the caller's clock now, and false when the
// offset seemed to move on a measurement older than clockRecheck (unless
// measured is set: the caller has just measured again). Then it
// keeps the offset in use and drops the measurement, so that the next sync
// measures again: the database's clock is carried forward on the monotonic
// clock, and a step of the wall clock (the operating system correcting it)
// moves the estimate by as much as the step while the database, on the
// same machine, did not move at all. Only a fresh measurement may change
// the offset, except by a jump of clockJump or more, which the returned
// frame follows at once (for frame's callers, which cannot measure).
func (c *dbClock) check(measured bool) (frame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.local()
	off := c.db + int64(now.Sub(c.base)) - c.caller().UnixNano()
	tol := int64(max(clockTolerance, 2*c.unc))
	switch {
	case -tol <= off && off <= tol:
		c.off = 0
	case off-c.off > tol || c.off-off > tol:
		if !measured && c.ok && now.Sub(c.base) > clockRecheck {
			c.ok = false
			if d := off - c.off; -int64(clockJump) < d && d < int64(clockJump) {
				return frame{off: c.off}, false
			}
			c.off = off // a jump of the caller's clock: followed at once
			return frame{off: c.off}, false
		}
		c.off = off
	}
	return frame{off: c.off}, true
}

// in moves a caller's time into the database's frame (Unix nanoseconds;
// the zero time stays 0).
func (f frame) in(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano() + f.off
}

// out moves a database time into the caller's frame (0 stays the zero
// time).
func (f frame) out(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n - f.off)
}

// frame returns the frame of the caller's clock (see dbClock), measuring
// the database's clock first if its last measurement is old.
func (s *Store) frame(ctx context.Context, op string) (frame, error) {
	if err := s.begin(ctx, op); err != nil {
		return frame{}, err
	}
	f, err := s.clock.current(ctx)
	if err != nil {
		return frame{}, s.wrap(ctx, op, err)
	}
	return f, nil
}

// current returns the frame of the caller's clock now, measuring the
// database's clock first if its last measurement is old, or again if the
// offset seems to have moved (see check).
func (c *dbClock) current(ctx context.Context) (frame, error) {
	for measured := false; ; measured = true {
		if err := c.sync(ctx); err != nil {
			return frame{}, err
		}
		if f, ok := c.check(measured); ok {
			return f, nil
		}
	}
}
