package lms

import (
	"context"
	"fmt"
	"time"
)

// DailyCounts is a client's links by state on one day, the data of the
// report pages' chart of a site's link states over time.
type DailyCounts struct {
	Day    time.Time // midnight UTC of the day
	Counts StateCounts
}

// DailyCountStore keeps each client's link counts per day. The Engine
// records none over a Store that does not implement it. The common
// contract of Store applies; a day that is not a midnight UTC is
// ErrInvalid.
type DailyCountStore interface {
	// RecordDailyCounts records, for every client without a record for
	// day, its Counts as they are now, and returns how many it recorded:
	// a client gets at most one record a day, however often it is called.
	RecordDailyCounts(ctx context.Context, day time.Time) (int, error)
	// DailyCounts returns the client's records of the days from from up
	// to before to, oldest first; ErrNotFound for an unknown client.
	// DeleteClient removes a client's records.
	DailyCounts(ctx context.Context, clientID string, from, to time.Time) ([]DailyCounts, error)
	// PruneDailyCounts removes every record of a day before before and
	// returns how many it removed.
	PruneDailyCounts(ctx context.Context, before time.Time) (int, error)
}

// DailyCountsKept is how many days of counts the Engine keeps per client.
const DailyCountsKept = 400

// dailyCountsEvery is how often the syncer's part records the day's counts
// (a record is written once a day; the other rounds find it there).
const dailyCountsEvery = time.Hour

// RecordDailyCounts records today's (UTC) counts of every client that has
// none yet and drops the records older than DailyCountsKept days; it
// returns how many it recorded. Run calls it hourly with the syncer.
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
// included), oldest first; days without a record are left out. An unknown
// client is ErrNotFound; a Store without DailyCountStore has no records.
func (e *Engine) DailyCounts(ctx context.Context, clientID string, days int) ([]DailyCounts, error) {
	if days < 1 || days > DailyCountsKept {
		return nil, fmt.Errorf("lms: daily counts: %d days, want 1..%d: %w", days, DailyCountsKept, ErrInvalid)
	}
	ds, ok := e.store.(DailyCountStore)
	if !ok {
		if _, err := e.store.GetClient(ctx, clientID); err != nil {
			return nil, fmt.Errorf("lms: daily counts: %w", err)
		}
		return nil, nil
	}
	to := e.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	out, err := ds.DailyCounts(ctx, clientID, to.AddDate(0, 0, -days), to)
	if err != nil {
		return nil, fmt.Errorf("lms: daily counts: %w", err)
	}
	return out, nil
}

// recordDailyCounts calls RecordDailyCounts now and every dailyCountsEvery
// until ctx ends; failures are logged and retried at the next round.
func (e *Engine) recordDailyCounts(ctx context.Context) error {
	t := time.NewTicker(dailyCountsEvery)
	defer t.Stop()
	for {
		if _, err := e.RecordDailyCounts(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("recording the daily link counts", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
