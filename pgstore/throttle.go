package pgstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
)

var _ lms.ThrottleStore = (*Store)(nil)

// throttleSweep is the least time between two sweeps of spent throttle
// rows by one Store.
const throttleSweep = time.Minute

// throttleRows digests, validates and orders (the lock order) keys; every
// is what one reservation of the key adds to its tat (Every × Cost).
func throttleRows(keys []lms.ThrottleKey) (digests [][]byte, every, limit []int64, err error) {
	type row struct {
		d            []byte
		every, limit int64
	}
	rows := make([]row, 0, len(keys))
	for _, k := range keys {
		if k.Burst < 1 || k.Every <= 0 || k.Cost < 0 || k.Cost > k.Burst {
			return nil, nil, nil, fmt.Errorf("pgstore: throttle %q: burst %d, every %v, cost %d: %w", k.Key, k.Burst, k.Every, k.Cost, lms.ErrInvalid)
		}
		d := sha256.Sum256([]byte(k.Key))
		rows = append(rows, row{d[:], int64(k.Every) * int64(max(k.Cost, 1)), int64(k.Burst) * int64(k.Every)})
	}
	slices.SortFunc(rows, func(a, b row) int { return bytes.Compare(a.d, b.d) })
	rows = slices.CompactFunc(rows, func(a, b row) bool { return bytes.Equal(a.d, b.d) })
	for _, r := range rows {
		digests, every, limit = append(digests, r.d), append(every, r.every), append(limit, r.limit)
	}
	return digests, every, limit, nil
}

// ReserveFailures implements lms.ThrottleStore. One transaction locks the
// keys' rows (creating them, in digest order), and, if every bucket has a
// failure left at the database's clock_timestamp(), takes one of each
// (GCRA: tat = max(tat, now) + Every·Cost, allowed while tat − now ≤
// Burst·Every).
func (s *Store) ReserveFailures(ctx context.Context, keys []lms.ThrottleKey) (bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	digests, every, limit, err := throttleRows(keys)
	if err != nil {
		return false, err
	}
	if err := s.begin(ctx, "reserve failures"); err != nil || len(digests) == 0 {
		return err == nil, err
	}
	ok := false
	err = s.tx(ctx, "reserve failures", func(tx pgx.Tx) error {
		ok = false
		var n int64
		rows, err := tx.Query(ctx, `INSERT INTO throttles AS t (key, tat) SELECT k, 0 FROM unnest($1::bytea[]) AS k ORDER BY k
			ON CONFLICT (key) DO UPDATE SET tat = t.tat
			RETURNING t.key, t.tat, (extract(epoch FROM clock_timestamp()) * 1e6)::int8 * 1000`, digests)
		if err != nil {
			return err
		}
		tats := map[string]int64{}
		var d []byte
		var tat int64
		if _, err := pgx.ForEachRow(rows, []any{&d, &tat, &n}, func() error { tats[string(d)] = tat; return nil }); err != nil {
			return err
		}
		next := make([]int64, len(digests))
		for i, d := range digests {
			next[i] = max(tats[string(d)], n) + every[i]
			if next[i]-n > limit[i] {
				return nil // a key has no failure left: nothing changes
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE throttles t SET tat = x.tat FROM unnest($1::bytea[], $2::int8[]) AS x(key, tat) WHERE t.key = x.key`, digests, next); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, err
	}
	s.sweepThrottles(ctx)
	return ok, nil
}

// SettleFailures implements lms.ThrottleStore: a good attempt gives its
// reserved failures back (tat − Every·Cost); a failed one keeps them.
func (s *Store) SettleFailures(ctx context.Context, keys []lms.ThrottleKey, failed bool) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	digests, every, _, err := throttleRows(keys)
	if err != nil {
		return err
	}
	if err := s.begin(ctx, "settle failures"); err != nil || failed || len(digests) == 0 {
		return err
	}
	return s.tx(ctx, "settle failures", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE throttles t SET tat = t.tat - x.every FROM unnest($1::bytea[], $2::int8[]) AS x(key, every) WHERE t.key = x.key`, digests, every)
		return err
	})
}

// sweepThrottles deletes, at most once per throttleSweep, the rows of full
// buckets (their tat has passed): such a key is the same as an unknown one.
// A failed sweep is tried again at the next.
func (s *Store) sweepThrottles(ctx context.Context) {
	last := s.lastSweep.Load()
	now := time.Now().UnixNano()
	if now-last < int64(throttleSweep) || !s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	_ = s.read(ctx, "sweep throttles", func(q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM throttles WHERE tat < (extract(epoch FROM clock_timestamp()) * 1e6)::int8 * 1000`)
		return err
	})
}
