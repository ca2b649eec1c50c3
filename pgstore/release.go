package pgstore

import (
	"context"
	"slices"
	"strings"

	"github.com/linkmonitor/lms"
)

// releaseHosts ends the holds of $1 on the hosts named $2: each is not
// offered before $3 (a host's next allowed time, or 0) nor before its
// back-off, which $3 joins (HoldHost reports it to the next holder), and
// its readiness is recomputed from its due links.
const releaseHosts = `WITH x AS (SELECT * FROM unnest($2::text[], $3::int8[]) AS x(name, nb) ORDER BY name),
	v AS MATERIALIZED (
		SELECT h.id, greatest(h.deferred, x.nb) AS nb,
			(SELECT min(l.due) FROM links l WHERE l.host_id = h.id AND l.subs > 0) AS d
		FROM x JOIN hosts h ON h.name = x.name
		WHERE h.holder = $1 AND h.held_until > 0
		ORDER BY h.id FOR UPDATE OF h)
	UPDATE hosts h SET held_until = 0, deferred = v.nb, not_before = v.nb, min_due = v.d,
		ready_at = CASE WHEN v.d IS NULL THEN NULL ELSE greatest(v.d, v.nb) END,
		avail_at = CASE WHEN v.d IS NULL THEN NULL ELSE greatest(v.d, v.nb) END
	FROM v WHERE h.id = v.id`

// ReleaseHosts implements lms.ScheduleStore in one statement, and wakes the
// other processes' checkers (as new links would), so that they claim the
// hosts at once rather than at their next poll.
func (s *Store) ReleaseHosts(ctx context.Context, holder string, hosts []lms.HostRelease) error {
	ctx, cancel := s.callN(ctx, len(hosts))
	defer cancel()
	f, err := s.frame(ctx, "release hosts")
	if err != nil {
		return err
	}
	hosts = slices.Clone(hosts)
	slices.SortFunc(hosts, func(a, b lms.HostRelease) int { return strings.Compare(a.Host, b.Host) })
	var names []string
	var nb []int64
	for _, r := range hosts {
		if r.Host == "" || (len(names) > 0 && names[len(names)-1] == text(r.Host)) {
			continue
		}
		names, nb = append(names, text(r.Host)), append(nb, f.in(r.NotBefore))
	}
	if len(names) == 0 {
		return nil
	}
	err = s.read(ctx, "release hosts", func(q querier) error {
		_, err := q.Exec(ctx, releaseHosts, text(holder), names, nb)
		return err
	})
	if err == nil {
		s.wake(lms.WakeLinksAdded)
	}
	return err
}
