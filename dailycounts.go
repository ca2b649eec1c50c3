package lms

import (
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/loop"
)

// DailyCounts is a client's links by state on one day (the report pages'
// chart of a site's link states over time).
type DailyCounts struct {
	Day    time.Time // midnight UTC of the day
	Counts StateCounts
}

// DailyCountStore keeps each client's link counts per day; the Engine
// records none over a Store without it. The common contract of Store
// applies; a day that is not a midnight UTC is ErrInvalid.
type DailyCountStore interface {
	// RecordDailyCounts records, for every client without a record for
	// day, its Counts as they are now, and returns how many it recorded.
	RecordDailyCounts(ctx context.Context, day time.Time) (int, error)
	// DailyCounts returns the client's records of the days in [from, to),
	// oldest first. DeleteClient removes a client's records.
	DailyCounts(ctx context.Context, clientID string, from, to time.Time) ([]DailyCounts, error)
	// PruneDailyCounts removes the records of the days before before.
	PruneDailyCounts(ctx context.Context, before time.Time) (int, error)
}

// DailyCountsKept is how many days of counts the Engine keeps per client.
const DailyCountsKept = 400

// RecordDailyCounts records today's (UTC) counts of every client that has
// none yet, drops those older than DailyCountsKept days, and returns how
// many it recorded. Run calls it hourly with the syncer.
func (e *Engine) RecordDailyCounts(ctx context.Context) (int, error) {
	ds, ok := e.store.(DailyCountStore)
	if !ok {
		return 0, nil
	}
	today := e.now().UTC().Truncate(24 * time.Hour)
	n, err := ds.RecordDailyCounts(ctx, today)
	if err == nil {
		_, err = ds.PruneDailyCounts(ctx, today.AddDate(0, 0, -DailyCountsKept))
	}
	if err != nil {
		return n, fmt.Errorf("lms: record daily counts: %w", err)
	}
	return n, nil
}

// DailyCounts returns the client's counts of the last days days (today
// included), oldest first; days without a record are left out.
func (e *Engine) DailyCounts(ctx context.Context, clientID string, days int) ([]DailyCounts, error) {
	if days < 1 || days > DailyCountsKept {
		return nil, fmt.Errorf("lms: daily counts: %d days, want 1..%d: %w", days, DailyCountsKept, ErrInvalid)
	}
	to := e.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	var out []DailyCounts
	_, err := e.store.GetClient(ctx, clientID)
	if ds, ok := e.store.(DailyCountStore); ok && err == nil {
		out, err = ds.DailyCounts(ctx, clientID, to.AddDate(0, 0, -days), to)
	}
	if err != nil {
		return nil, fmt.Errorf("lms: daily counts: %w", err)
	}
	return out, nil
}

// recordDailyCounts calls RecordDailyCounts now and hourly until ctx ends.
func (e *Engine) recordDailyCounts(ctx context.Context) error {
	loop.Rounds(ctx, time.Hour, nil, func() {
		if _, err := e.RecordDailyCounts(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("recording the daily link counts", "err", err)
		}
	})
	return nil
}
