package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/storerules"
)

// pruneHosts deletes at most $2 hosts that no link was created on (only a
// hold of a redirect hop or a back-off made them: ensureHosts marks the
// hosts of links linked before any process may cache their ids), once
// their spacing, back-off and hold have ended at $1. SKIP LOCKED passes
// over rows a claim, a hold or a subscription is working on.
const pruneHosts = `DELETE FROM hosts WHERE id IN (
	SELECT id FROM hosts
	WHERE NOT linked AND not_before <= $1 AND deferred <= $1 AND held_until <= $1
	LIMIT $2 FOR UPDATE SKIP LOCKED)`

// PruneHosts implements lms.ScheduleStore.
func (s *Store) PruneHosts(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := storerules.CheckPrune(limit); err != nil {
		return 0, fmt.Errorf("pgstore: %w", err)
	}
	f, err := s.frame(ctx, "prune hosts")
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.read(ctx, "prune hosts", func(q querier) error {
		tag, err := q.Exec(ctx, pruneHosts, f.in(now), limit)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}
