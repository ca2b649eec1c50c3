package storerules

import (
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
)

// CheckDay checks a day of lms.DailyCountStore: a midnight UTC.
func CheckDay(day time.Time) error {
	if day.IsZero() || day.Location() != time.UTC || !day.Equal(day.Truncate(24*time.Hour)) {
		return fmt.Errorf("day %s is not a midnight UTC: %w", day, lms.ErrInvalid)
	}
	return nil
}

// CheckDayRange checks the from and to of DailyCounts (any instants; from
// not after to).
func CheckDayRange(from, to time.Time) error {
	if to.Before(from) {
		return fmt.Errorf("days from %s to %s: %w", from, to, lms.ErrInvalid)
	}
	return nil
}
