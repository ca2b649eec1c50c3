package lms_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// TestAuthenticateUnknownIDSameTime checks that an unknown client id is
// refused after the same work as a wrong password of a known one (a
// password verification), so timing does not tell which ids exist.
func TestAuthenticateUnknownIDSameTime(t *testing.T) {
	ctx := context.Background()
	e, err := lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker})
	require.NoError(t, err)
	_, err = e.RegisterClient(ctx, adminSecret, lms.Registration{ID: "known", ContactEmail: "x@example.org", CallbackURL: "http://x.example/"})
	require.NoError(t, err)
	median := func(id string) time.Duration {
		ds := make([]time.Duration, 0, 301)
		for range cap(ds) {
			start := time.Now()
			require.ErrorIs(t, e.Authenticate(ctx, id, "a-wrong-password-of-30-chars!!"), lms.ErrUnauthorized)
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	// One untimed round of each first: the first calls pay for warming
	// caches (and the race detector's shadow memory), not for the id.
	median("known")
	median("unknown")
	// Interleave the rounds so that machine noise hits both alike.
	var known, unknown []time.Duration
	for range 5 {
		known = append(known, median("known"))
		unknown = append(unknown, median("unknown"))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[2], unknown[2]
	t.Logf("median refusal: known id %v, unknown id %v", k, u)
	require.Less(t, float64(k)/float64(u), 1.5, "an unknown id is refused much faster than a known one")
	require.Less(t, float64(u)/float64(k), 1.5, "an unknown id is refused much slower than a known one")
}
