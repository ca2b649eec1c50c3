package memstore

// The daily counts' role (lms.DailyCountStore): each client's links by
// state per day, kept with the client.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

var _ lms.DailyCountStore = (*Store)(nil)

// RecordDailyCounts implements lms.DailyCountStore.
func (s *Store) RecordDailyCounts(ctx context.Context, day time.Time) (int, error) {
	if err := storerules.CheckDay(day); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.clients {
		i, found := slices.BinarySearchFunc(c.daily, day, func(d lms.DailyCounts, t time.Time) int { return d.Day.Compare(t) })
		if found {
			continue
		}
		c.daily = slices.Insert(c.daily, i, lms.DailyCounts{Day: day, Counts: c.c.Counts})
		n++
	}
	return n, nil
}

// DailyCounts implements lms.DailyCountStore.
func (s *Store) DailyCounts(ctx context.Context, clientID string, from, to time.Time) ([]lms.DailyCounts, error) {
	if err := storerules.CheckDayRange(from, to); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []lms.DailyCounts
	for _, d := range c.daily {
		if !d.Day.Before(from) && d.Day.Before(to) {
			out = append(out, d)
		}
	}
	return out, nil
}

// PruneDailyCounts implements lms.DailyCountStore.
func (s *Store) PruneDailyCounts(ctx context.Context, before time.Time) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.clients {
		i := 0
		for i < len(c.daily) && c.daily[i].Day.Before(before) {
			i++
		}
		c.daily = slices.Delete(c.daily, 0, i)
		n += i
	}
	return n, nil
}
