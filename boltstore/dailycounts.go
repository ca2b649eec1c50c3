package boltstore

// The daily counts' role (lms.DailyCountStore): bucket daily, id 0 day(8)
// → the client's counts that day (encodeCounts).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

var _ lms.DailyCountStore = (*Store)(nil)

func dailyKey(id string, day time.Time) []byte {
	return append(prefix(id), timeKey(day.UnixNano())...)
}

// RecordDailyCounts implements lms.DailyCountStore.
func (s *Store) RecordDailyCounts(ctx context.Context, day time.Time) (int, error) {
	if err := storerules.CheckDay(day); err != nil {
		return 0, fmt.Errorf("boltstore: %w", err)
	}
	n := 0
	err := s.update(ctx, func(t *txn) error {
		n = 0
		d := t.b(bDaily)
		return t.b(bClients).ForEach(func(k, v []byte) error {
			key := dailyKey(string(k), day)
			if d.Get(key) != nil {
				return nil
			}
			var c lms.Client
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("client %q: %w", k, errCorrupt)
			}
			n++
			return d.Put(key, encodeCounts(c.Counts))
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DailyCounts implements lms.DailyCountStore.
func (s *Store) DailyCounts(ctx context.Context, clientID string, from, to time.Time) ([]lms.DailyCounts, error) {
	if err := storerules.CheckDayRange(from, to); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	var out []lms.DailyCounts
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		pre, end := prefix(clientID), dailyKey(clientID, to)
		c := t.b(bDaily).Cursor()
		for k, v := c.Seek(dailyKey(clientID, from)); k != nil && bytes.HasPrefix(k, pre) && bytes.Compare(k, end) < 0; k, v = c.Next() {
			if len(k) != len(pre)+8 {
				return errCorrupt
			}
			counts, err := decodeCounts(v)
			if err != nil {
				return err
			}
			out = append(out, lms.DailyCounts{Day: fromNanos(timeFromKey(k[len(pre):])).UTC(), Counts: counts})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneDailyCounts implements lms.DailyCountStore. It looks at every
// record: a few hundred per client.
func (s *Store) PruneDailyCounts(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(t *txn) error {
		var drop [][]byte // never delete under a cursor
		b := t.b(bDaily)
		err := b.ForEach(func(k, _ []byte) error {
			if len(k) >= 9 && timeFromKey(k[len(k)-8:]) < before.UnixNano() {
				drop = append(drop, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(drop)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// dropDailyCounts removes the client's records (DeleteClient).
func (t *txn) dropDailyCounts(id string) error {
	b := t.b(bDaily)
	var drop [][]byte
	c := b.Cursor()
	pre := prefix(id)
	for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
		drop = append(drop, bytes.Clone(k))
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
