package pgstore

// The daily counts' role (lms.DailyCountStore): table daily_counts,
// written from client_totals (the sum of a client's count shards) in one statement. Schema in
// migrations/0011_daily_counts.sql.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

var _ lms.DailyCountStore = (*Store)(nil)

// RecordDailyCounts implements lms.DailyCountStore.
func (s *Store) RecordDailyCounts(ctx context.Context, day time.Time) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := storerules.CheckDay(day); err != nil {
		return 0, fmt.Errorf("pgstore: %w", err)
	}
	var n int64
	err := s.tx(ctx, "record daily counts", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO daily_counts (client_id, day, ok, temporary, unavailable, unsupported, unknown)
			SELECT k.client_id, $1, k.ok, k.temporary, k.unavailable, k.unsupported, k.unknown
			FROM client_totals k JOIN clients c ON c.id = k.client_id
			ON CONFLICT (client_id, day) DO NOTHING`, nanos(day))
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// DailyCounts implements lms.DailyCountStore.
func (s *Store) DailyCounts(ctx context.Context, clientID string, from, to time.Time) ([]lms.DailyCounts, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := storerules.CheckDayRange(from, to); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return clientRows(ctx, s, "daily counts", clientID, scanDaily,
		`SELECT day, ok, temporary, unavailable, unsupported, unknown FROM daily_counts
		WHERE client_id = $1 AND day >= $2 AND day < $3 ORDER BY day`, clientID, nanos(from), nanos(to))
}

func scanDaily(row pgx.CollectableRow) (lms.DailyCounts, error) {
	var d lms.DailyCounts
	var day int64
	c := &d.Counts
	if err := row.Scan(&day, &c.OK, &c.Temporary, &c.Unavailable, &c.Unsupported, &c.Unknown); err != nil {
		return d, err
	}
	d.Day = time.Unix(0, day).UTC()
	return d, nil
}

// PruneDailyCounts implements lms.DailyCountStore.
func (s *Store) PruneDailyCounts(ctx context.Context, before time.Time) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var n int64
	err := s.tx(ctx, "prune daily counts", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM daily_counts WHERE day < $1`, nanos(before))
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}
