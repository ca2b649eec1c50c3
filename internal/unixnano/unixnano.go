// Package unixnano converts times to the Unix nanoseconds the stores keep,
// with the zero time as 0 (time.Time{}.UnixNano is undefined).
package unixnano

import "time"

// From returns t as Unix nanoseconds; the zero time is 0.
func From(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// To is the inverse of From; times come back in UTC.
func To(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
