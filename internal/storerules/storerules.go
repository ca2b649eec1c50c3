// Package storerules holds the rules of the lms.Store contract that memstore
// and boltstore both apply the same way, whatever their data structures:
// the argument checks, what a check result does to a link (and that only a
// change of state is notified), how a claim paces and holds a host, and the
// small conventions of pages, pending updates and client updates.
//
// The functions return errors without a package prefix; each store wraps
// them with its own.
package storerules

import (
	"cmp"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/unixnano"
	"github.com/linkmonitor/lms/internal/validate"
)

// CheckURLs validates a batch of URLs to subscribe: one invalid URL fails
// the whole batch with lms.ErrInvalid.
func CheckURLs(urls []string) error {
	for _, u := range urls {
		if err := validate.URL(u); err != nil {
			return fmt.Errorf("%w: %w", lms.ErrInvalid, err)
		}
	}
	return nil
}

// NewClient returns the client to store for CreateClient: its id validated
// (lms.ErrInvalid otherwise), no counts (a new client has no links), and no
// memory shared with c.
func NewClient(c lms.Client) (lms.Client, error) {
	if err := validate.ClientID(c.ID); err != nil {
		return lms.Client{}, fmt.Errorf("%w: %w", lms.ErrInvalid, err)
	}
	c.Counts = lms.StateCounts{}
	return c.Clone(), nil
}

// UpdateClient calls fn on a copy of c and returns the copy, with c's ID and
// Counts, which fn cannot change; fn's error is returned as it is.
func UpdateClient(c lms.Client, fn func(*lms.Client) error) (lms.Client, error) {
	cp := c.Clone()
	if err := fn(&cp); err != nil {
		return lms.Client{}, err
	}
	cp.ID, cp.Counts = c.ID, c.Counts
	return cp, nil
}

// CheckClaim validates the options of a ClaimDue call.
func CheckClaim(opt lms.ClaimOptions) error {
	if opt.Limit <= 0 || opt.PerHost <= 0 || opt.Lease <= 0 || opt.HostGap < 0 {
		return fmt.Errorf("claim options %+v: %w", opt, lms.ErrInvalid)
	}
	return nil
}

// CheckHold validates the lease of a HoldHost call.
func CheckHold(host string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("hold host %q for %v: %w", host, lease, lms.ErrInvalid)
	}
	return nil
}

// CheckPrune validates the limit of a PruneHosts call.
func CheckPrune(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("prune hosts, at most %d: %w", limit, lms.ErrInvalid)
	}
	return nil
}

// CheckOutcomes validates the records of a RecordResults call: every record
// that is not a Hold carries one of the protocol states.
func CheckOutcomes(recs []lms.Outcome) error {
	for _, r := range recs {
		if !r.Hold && !r.Result.State.Valid() {
			return fmt.Errorf("record for %q: state %q: %w", r.URL, r.Result.State, lms.ErrInvalid)
		}
	}
	return nil
}

// HeldByOther reports whether the hold h of a host keeps holder from
// claiming it at now: it is held by another holder ("" is a holder like any
// other) until after now. The zero Lease holds nothing.
func HeldByOther(h lms.Lease, holder string, now time.Time) bool {
	return h.Holder != holder && now.Before(h.Until)
}

// PacedUntil returns until when a host is not offered again after a claim
// took claimed of its links at now: the time the checker needs to work
// through them at one request per gap, (claimed-1)*gap, and at least one
// gap. ok is false when the host is not paced: the "" host (links checked
// without network) and a zero gap.
func PacedUntil(host string, now time.Time, claimed int, gap time.Duration) (until time.Time, ok bool) {
	if host == "" || gap <= 0 {
		return time.Time{}, false
	}
	return now.Add(time.Duration(max(claimed-1, 1)) * gap), true
}

// InPage reports whether a link of a listing that starts at p.After
// belongs on page p: After itself does not, nor does a link in another
// state than p.State when that is set.
func InPage(p lms.Page, url string, state lms.State) bool {
	return (p.After == "" || url != p.After) && (p.State == "" || state == p.State)
}

// PageFull reports whether a page that holds n links is complete.
func PageFull(p lms.Page, n int) bool { return p.Limit > 0 && n >= p.Limit }

// Pending is a pending update as NotificationStore.PendingUpdates returns
// it: a change without a reason reads "unknown" (Update.Reason is never
// empty).
func Pending(url string, state lms.State, reason string, seq uint64) lms.PendingUpdate {
	return lms.PendingUpdate{Update: lms.Update{URL: url, State: state, Reason: cmp.Or(reason, "unknown")}, Seq: seq}
}

// Move moves one link from state from to state to in c.
func Move(c *lms.StateCounts, from, to lms.State) {
	c.Add(from, -1)
	c.Add(to, 1)
}

// StateIndex is the index of s in lms.States(); anything that is not a
// protocol state counts as lms.StateUnknown. boltstore writes it to disk:
// the order of lms.States() is part of its file format.
func StateIndex(s lms.State) uint8 {
	for i, v := range lms.States() {
		if v == s {
			return uint8(i)
		}
	}
	return uint8(len(lms.States()) - 1)
}

// StateAt is the inverse of StateIndex; indexes out of range are
// lms.StateUnknown.
func StateAt(i uint8) lms.State {
	if st := lms.States(); int(i) < len(st) {
		return st[i]
	}
	return lms.StateUnknown
}

// Check is the part of a stored link that check results write, in the
// compact form memstore keeps a million of in memory (times are Unix
// nanoseconds, 0 for the zero time). Both stores embed it in their link
// records.
type Check struct {
	Reason   string
	Final    string // Result.FinalURL
	Kind     string // Result.Kind
	Checked  int64  // when the last check ran
	Changed  int64  // when the state last changed
	RT       int64  // Result.ResponseTime
	Code     int32
	Failures int32
	St       uint8 // State as StateIndex
	Perm     bool  // Result.Permanent
}

// NewCheck is the check part of a new link: never checked, state unknown.
func NewCheck() Check { return Check{St: StateIndex(lms.StateUnknown)} }

// State returns the link's state.
func (c *Check) State() lms.State { return StateAt(c.St) }

// Apply writes the result of o into c: the result fields, the failure count
// and the check time, and, if the state changed, the state and the time of
// the change. It returns the previous state and whether the state changed:
// only a change of state is notified to the link's subscribers and moves
// the state counts; a new reason, code or failure count alone is not. o
// must not be a Hold (that only reschedules the link).
func (c *Check) Apply(o lms.Outcome) (old lms.State, changed bool) {
	res := o.Result
	old = c.State()
	c.Reason, c.Code, c.Final, c.Perm, c.Kind = res.Reason, int32(res.Code), res.FinalURL, res.Permanent, res.Kind
	c.RT, c.Failures, c.Checked = int64(res.ResponseTime), int32(o.Failures), unixnano.From(o.Checked)
	if res.State == old {
		return old, false
	}
	c.St, c.Changed = StateIndex(res.State), c.Checked
	return old, true
}

// Link returns the lms.Link of a stored link: its check part c, and what
// the store keeps beside it.
func (c *Check) Link(url, host string, nextDue int64, subscribers int) lms.Link {
	return lms.Link{
		URL:          url,
		Host:         host,
		State:        c.State(),
		Reason:       c.Reason,
		Code:         int(c.Code),
		LastChecked:  unixnano.To(c.Checked),
		LastChanged:  unixnano.To(c.Changed),
		NextDue:      unixnano.To(nextDue),
		Failures:     int(c.Failures),
		FinalURL:     c.Final,
		Permanent:    c.Perm,
		Kind:         c.Kind,
		ResponseTime: time.Duration(c.RT),
		Subscribers:  subscribers,
	}
}
