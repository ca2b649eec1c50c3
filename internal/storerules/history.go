package storerules

import (
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/unixnano"
)

// The editors' rules (lms.EditorStore) that the stores share: what a
// history entry holds, how a link's history is trimmed and paged, which
// ignore modes exist, and what an ignore does to a change.

// Entry is the history entry of the change c.Apply just made.
func (c *Check) Entry() lms.HistoryEntry {
	return lms.HistoryEntry{Time: unixnano.To(c.Checked), State: c.State(), Reason: c.Reason, Code: int(c.Code), FinalURL: c.Final}
}

// Keep reports whether a change at t (Unix nanoseconds) stays in a link's
// history whose newest change is at newest, being the i-th newest (0 for
// the newest itself), under the retention r (defaults filled in).
func Keep(r lms.HistoryRetention, i int, t, newest int64) bool {
	if r.MaxChanges < 0 || i >= r.MaxChanges {
		return false
	}
	return r.MaxAge < 0 || time.Duration(newest-t) <= r.MaxAge
}

// Trim returns the part of h (oldest first) that the retention r (defaults
// filled in) keeps, reusing h's memory.
func Trim(r lms.HistoryRetention, h []lms.HistoryEntry) []lms.HistoryEntry {
	if len(h) == 0 {
		return h
	}
	newest := unixnano.From(h[len(h)-1].Time)
	i := len(h)
	for i > 0 && Keep(r, len(h)-i, unixnano.From(h[i-1].Time), newest) {
		i--
	}
	if i == 0 {
		return h
	}
	return append(h[:0], h[i:]...)
}

// HistoryPage returns the entries of h (oldest first) before before (all
// if zero), newest first, at most limit (all if 0), in fresh memory.
func HistoryPage(h []lms.HistoryEntry, before time.Time, limit int) []lms.HistoryEntry {
	out := []lms.HistoryEntry{}
	for i := len(h) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if before.IsZero() || h[i].Time.Before(before) {
			out = append(out, h[i])
		}
	}
	return out
}

// CheckHistory validates the limit of a LinkHistory call.
func CheckHistory(limit int) error {
	if limit < 0 {
		return fmt.Errorf("history limit %d: %w", limit, lms.ErrInvalid)
	}
	return nil
}

// CheckIgnore validates the mode of a SetIgnore call.
func CheckIgnore(m lms.IgnoreMode) error {
	if m > lms.IgnoredForever {
		return fmt.Errorf("ignore mode %d: %w", m, lms.ErrInvalid)
	}
	return nil
}

// Ignored tells, for a subscriber that ignores a link in mode m, whether a
// change of the link's state is notified to it, and the mode after the
// change: an IgnoredUntilChanged ignore ends with the change, which is
// notified; an IgnoredForever one stays and holds the change back.
func Ignored(m lms.IgnoreMode) (notify bool, after lms.IgnoreMode) {
	if m == lms.IgnoredForever {
		return false, m
	}
	return true, lms.NotIgnored
}
