package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// The claim's statements (claimHostsHeld and claimHostsFree take the hosts,
// claimLinks their due links; see ClaimDue). They are constants so that a
// test can EXPLAIN them.
const (
	// claimHostsHeld: hosts that the claimer holds, by readiness.
	claimHostsHeld = `SELECT id, name, ready_at FROM hosts
		WHERE holder = $1 AND ready_at <= $2 AND NOT (id = ANY($3))
		ORDER BY ready_at, name LIMIT $4 FOR UPDATE SKIP LOCKED`
	// claimHostsFree: hosts that nobody holds (any more), by when they
	// became available.
	claimHostsFree = `SELECT id, name, avail_at FROM hosts
		WHERE avail_at <= $1 AND NOT (id = ANY($2))
		ORDER BY avail_at, name LIMIT $3 FOR UPDATE SKIP LOCKED`
	// claimLinks: at most $3 due subscribed links of each host of $1, in
	// the hosts' order, then by due time.
	claimLinks = `SELECT h.ord, l.url, l.state, l.failures
		FROM unnest($1::int4[]) WITH ORDINALITY AS h(id, ord)
		CROSS JOIN LATERAL (SELECT url, state, failures, due FROM links
			WHERE host_id = h.id AND subs > 0 AND due <= $2
			ORDER BY due LIMIT $3 FOR UPDATE SKIP LOCKED) l
		ORDER BY h.ord, l.due`
	// claimUpdateHosts: the visited hosts $1 with k[$2] links claimed get
	// their hold, their spacing (not before p[$5], the time
	// storerules.PacedUntil gives, NULL when not paced) and their
	// recomputed readiness.
	claimUpdateHosts = `WITH v AS MATERIALIZED (
		SELECT x.id, x.k, x.p, (SELECT min(l.due) FROM links l WHERE l.host_id = x.id AND l.subs > 0) AS d
		FROM unnest($1::int4[], $2::int4[], $5::int8[]) AS x(id, k, p))
	UPDATE hosts h SET
		holder = CASE WHEN v.k > 0 THEN $3::text ELSE h.holder END,
		held_until = ` + heldUntil + `,
		not_before = ` + notBefore + `,
		min_due = v.d,
		ready_at = CASE WHEN v.d IS NULL THEN NULL ELSE greatest(v.d, ` + notBefore + `) END,
		avail_at = CASE WHEN v.d IS NULL THEN NULL ELSE greatest(v.d, ` + notBefore + `, ` + heldUntil + `) END
	FROM v WHERE h.id = v.id AND h.id = ANY($1)`
	// A host is held until the lease's end once links of it were claimed,
	heldUntil = `CASE WHEN v.k > 0 THEN $4::int8 ELSE h.held_until END`
	// and not offered again before it is paced until (greatest ignores a
	// NULL).
	notBefore = `greatest(h.not_before, v.p)`
)

// subscribersOf is the subscriptions of the link c.url, for a LATERAL
// join: one probe of subscriptions_url per link. OFFSET 0 keeps the
// planner from flattening it into a join, which it plans (for an unnest of
// unknown length) as a hash join over the whole subscriptions table: 35 ms
// a batch at 10^5 subscriptions, seconds at 10^7.
const subscribersOf = `SELECT client_id, url, ignore FROM subscriptions WHERE url = c.url OFFSET 0`

type claimHost struct {
	id   int32
	name string
	key  int64
}

// ClaimDue implements lms.ScheduleStore. In one transaction it locks ready
// hosts that no other holder holds (SKIP LOCKED: hosts another claim is
// working on are passed over, not waited for), takes up to PerHost due
// links of each (SKIP LOCKED too), leases them, and holds the hosts. Every
// step is an index range scan: O(log n) per link.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	ctx, cancel := s.callN(ctx, opt.Limit)
	defer cancel()
	if err := storerules.CheckClaim(opt); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	f, err := s.frame(ctx, "claim")
	if err != nil {
		return nil, err
	}
	n := f.in(now)
	lease := n + int64(opt.Lease)
	var out []lms.Link
	// Three round trips for a claim that finds its links at the first try:
	// BEGIN and the hosts, their links, the writes and COMMIT.
	err = s.pipedTx(ctx, "claim", func(p *pipe) (*pgx.Batch, error) {
		out = out[:0]
		visited := []int32{}
		var claimed []string
		ks := map[int32]int32{}
		names := map[int32]string{}
		perHost := float64(opt.PerHost) // links a host gave, on average
		for len(out) < opt.Limit {
			need := int(float64(opt.Limit-len(out))/perHost + 0.999)
			hosts, more, err := claimHosts(ctx, p, opt.Holder, n, visited, need)
			if err != nil {
				return nil, err
			}
			if len(hosts) == 0 {
				break
			}
			ids := make([]int32, len(hosts))
			for i, h := range hosts {
				ids[i] = h.id
			}
			lb := &pgx.Batch{}
			lb.Queue(claimLinks, ids, n, opt.PerHost)
			br, err := p.send(ctx, lb)
			if err != nil {
				return nil, err
			}
			var ord int64
			var u string
			var st int16
			var failures int32
			got, last := 0, -1
			err = readBatch(br, []any{&ord, &u, &st, &failures}, func() error {
				if len(out) == opt.Limit {
					return nil
				}
				h := hosts[ord-1]
				ks[h.id]++
				last = int(ord - 1)
				got++
				claimed = append(claimed, u)
				out = append(out, lms.Link{URL: u, Host: h.name, State: stateOf(st), Failures: int(failures), NextDue: f.out(lease)})
				return nil
			})
			if err != nil {
				return nil, err
			}
			// The hosts up to the last one that gave a link were visited
			// (those that gave none get their readiness recomputed); the
			// rest stay as they are.
			upto := len(hosts)
			if len(out) == opt.Limit {
				upto = last + 1
			}
			for _, h := range hosts[:upto] {
				visited = append(visited, h.id)
				names[h.id] = h.name
			}
			if !more {
				break
			}
			perHost = max(float64(got)/float64(len(hosts)), 1)
		}
		if len(visited) == 0 {
			return nil, nil
		}
		b := &pgx.Batch{}
		if len(claimed) > 0 {
			b.Queue(`UPDATE links SET due = $2 WHERE url = ANY($1)`, claimed, lease)
		}
		slices.Sort(visited)
		k := make([]int32, len(visited))
		paced := make([]*int64, len(visited))
		for i, id := range visited {
			k[i] = ks[id]
			if until, ok := storerules.PacedUntil(names[id], now, int(k[i]), opt.HostGap); ok && k[i] > 0 {
				paced[i] = new(f.in(until))
			}
		}
		b.Queue(claimUpdateHosts, visited, k, opt.Holder, lease, paced)
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []lms.Link{}
	}
	return out, nil
}

// claimHosts locks up to need ready hosts for holder at n, those it holds
// and those nobody holds, in order of readiness; more says that there may
// be further ones.
func claimHosts(ctx context.Context, p *pipe, holder string, n int64, visited []int32, need int) ([]claimHost, bool, error) {
	byID := map[int32]claimHost{}
	more := false
	b := &pgx.Batch{}
	b.Queue(claimHostsHeld, holder, n, visited, need)
	b.Queue(claimHostsFree, n, visited, need)
	br, err := p.send(ctx, b)
	if err != nil {
		return nil, false, err
	}
	for range 2 {
		rows, err := br.Query()
		if err != nil {
			_ = br.Close()
			return nil, false, err
		}
		var h claimHost
		got := 0
		_, err = pgx.ForEachRow(rows, []any{&h.id, &h.name, &h.key}, func() error {
			got++
			if old, ok := byID[h.id]; !ok || h.key < old.key {
				byID[h.id] = h
			}
			return nil
		})
		if err != nil {
			_ = br.Close()
			return nil, false, err
		}
		if got == need {
			more = true
		}
	}
	if err := br.Close(); err != nil {
		return nil, false, err
	}
	hosts := slices.Collect(maps.Values(byID))
	slices.SortFunc(hosts, func(a, b claimHost) int {
		return cmp.Or(cmp.Compare(a.key, b.key), strings.Compare(a.name, b.name))
	})
	return hosts, more, nil
}

// freeShard is the shard of the counts of from (a table of 16 shards
// and the condition that picks one key's) that a result write adds to:
// the first, from the connection's own on, that no other transaction has
// locked, taken and locked at once (SKIP LOCKED), so that writers do not
// queue from lock to commit for a row another writer's backend pid also
// picked; the connection's own when all are locked (it waits for it).
func freeShard(from string) string {
	return `coalesce((SELECT k.shard FROM ` + from + ` ORDER BY (k.shard + 16 - pg_backend_pid() % 16) % 16
		LIMIT 1 FOR UPDATE SKIP LOCKED), pg_backend_pid() % 16)`
}

// recordBatch writes the records of one group commit (see RecordResults):
// one transaction locks the links (by URL), writes the results, the pending
// notifications of every subscriber of a link whose state changed (by URL
// and client), the hosts' readiness, and the client and link counts.
func (s *Store) recordBatch(ctx context.Context, recs []lms.Outcome) error {
	f, err := s.frame(ctx, "record results")
	if err != nil {
		return err
	}
	// The last record of a URL wins; its times go into the database's
	// frame.
	last := make(map[string]lms.Outcome, len(recs))
	for _, r := range recs {
		r.NextDue, r.Checked = fromNanos(f.in(r.NextDue)), fromNanos(f.in(r.Checked))
		last[r.URL] = r
	}
	urls := sortedUnique(slices.Collect(maps.Keys(last)))
	if len(urls) == 0 {
		return nil
	}
	pending := false
	// Two round trips: BEGIN and the links' locks, then the writes and
	// COMMIT.
	err = s.pipedTx(ctx, "record results", func(p *pipe) (*pgx.Batch, error) {
		pending = false
		lock := &pgx.Batch{}
		lock.Queue(`SELECT url, state, changed, failing_since, subs, host_id FROM links WHERE url = ANY($1) ORDER BY url FOR UPDATE`, urls)
		br, err := p.send(ctx, lock)
		if err != nil {
			return nil, err
		}
		type old struct {
			state     int16
			changed   int64
			failSince int64
			subs      int32
			host      int32
		}
		olds := make(map[string]old, len(urls))
		var u string
		var o old
		err = readBatch(br, []any{&u, &o.state, &o.changed, &o.failSince, &o.subs, &o.host}, func() error { olds[u] = o; return nil })
		if err != nil {
			return nil, err
		}
		if len(olds) == 0 {
			return nil, nil
		}
		var (
			col struct {
				url, reason, final []string
				kind               []string
				hold, perm         []bool
				state              []int16
				code, failures     []int32
				rt, checked, due   []int64
				changed, failSince []int64
				chURL, chReason    []string
				hist               history
				chOld, chNew       []int16
			}
			global  counts
			touched = map[int32]bool{}
		)
		for _, u := range urls {
			o, ok := olds[u]
			if !ok {
				continue // unknown URL: skipped
			}
			r := last[u]
			// What the result does to the link is the shared rule; a Hold
			// only reschedules it (the UPDATE keeps its columns).
			c := storerules.Check{St: uint8(o.state), Changed: o.changed, FailSince: o.failSince}
			changed := false
			if !r.Hold {
				_, changed = c.Apply(r)
			}
			st := int16(c.St)
			col.url = append(col.url, u)
			col.hold = append(col.hold, r.Hold)
			col.state = append(col.state, st)
			col.changed = append(col.changed, c.Changed)
			col.reason = append(col.reason, text(c.Reason))
			col.code = append(col.code, c.Code)
			col.final = append(col.final, text(c.Final))
			col.perm = append(col.perm, c.Perm)
			col.kind = append(col.kind, text(c.Kind))
			col.rt = append(col.rt, c.RT)
			col.failures = append(col.failures, c.Failures)
			col.checked = append(col.checked, c.Checked)
			col.due = append(col.due, nanos(r.NextDue)) // in the database's frame (above)
			col.failSince = append(col.failSince, c.FailSince)
			if changed {
				col.hist.add(u, &c)
			}
			if o.subs <= 0 {
				continue
			}
			touched[o.host] = true
			if changed {
				col.chURL = append(col.chURL, u)
				col.chReason = append(col.chReason, text(c.Reason))
				col.chOld = append(col.chOld, o.state)
				col.chNew = append(col.chNew, st)
				global.add(o.state, -1)
				global.add(st, 1)
			}
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE links l SET due = r.due,
				state = CASE WHEN r.hold THEN l.state ELSE r.state END,
				changed = CASE WHEN r.hold THEN l.changed ELSE r.changed END,
				reason = CASE WHEN r.hold THEN l.reason ELSE r.reason END,
				code = CASE WHEN r.hold THEN l.code ELSE r.code END,
				final_url = CASE WHEN r.hold THEN l.final_url ELSE r.final_url END,
				permanent = CASE WHEN r.hold THEN l.permanent ELSE r.permanent END,
				rt = CASE WHEN r.hold THEN l.rt ELSE r.rt END,
				failures = CASE WHEN r.hold THEN l.failures ELSE r.failures END,
				checked = CASE WHEN r.hold THEN l.checked ELSE r.checked END,
				kind = CASE WHEN r.hold THEN l.kind ELSE r.kind END,
				failing_since = CASE WHEN r.hold THEN l.failing_since ELSE r.failing_since END
			FROM unnest($1::text[], $2::bool[], $3::int2[], $4::text[], $5::int4[], $6::text[], $7::bool[], $8::int8[], $9::int4[], $10::int8[], $11::int8[], $12::int8[], $13::text[], $14::int8[])
				AS r(url, hold, state, reason, code, final_url, permanent, rt, failures, checked, due, changed, kind, failing_since)
			WHERE l.url = r.url`,
			col.url, col.hold, col.state, col.reason, col.code, col.final, col.perm, col.rt, col.failures, col.checked, col.due, col.changed, col.kind, col.failSince)
		col.hist.queue(b, s.retention)
		if len(col.chURL) > 0 {
			b.Queue(`INSERT INTO pending (client_id, url, state, reason, seq)
				SELECT s.client_id, s.url, c.state, c.reason, nextval('pending_seq')
				FROM unnest($1::text[], $2::int2[], $3::text[]) AS c(url, state, reason) CROSS JOIN LATERAL (`+subscribersOf+`) s
				WHERE s.ignore <> 2
				ORDER BY s.url, s.client_id
				ON CONFLICT (client_id, url) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, seq = EXCLUDED.seq`,
				col.chURL, col.chNew, col.chReason)
			queueEndIgnores(b, col.chURL)
		}
		queueHostRefresh(b, touched)
		if len(col.chURL) > 0 {
			// The client counts and the link counts in one statement: their
			// shards are taken with SKIP LOCKED (freeShard), so a writer
			// waits for one only when all 16 are held (a deadlock then is
			// detected and the transaction run again).
			b.Queue(`WITH lc AS (UPDATE link_counts SET ok = ok + $4, temporary = temporary + $5, unavailable = unavailable + $6,
					unsupported = unsupported + $7, unknown = unknown + $8 WHERE shard = `+freeShard(`link_counts k`)+`),
				d AS (
					SELECT s.client_id,
						sum((c.new = 0)::int - (c.old = 0)::int) AS ok, sum((c.new = 1)::int - (c.old = 1)::int) AS temporary,
						sum((c.new = 2)::int - (c.old = 2)::int) AS unavailable, sum((c.new = 3)::int - (c.old = 3)::int) AS unsupported,
						sum((c.new = 4)::int - (c.old = 4)::int) AS unknown
					FROM unnest($1::text[], $2::int2[], $3::int2[]) AS c(url, old, new) CROSS JOIN LATERAL (`+subscribersOf+`) s
					GROUP BY s.client_id),
				lk AS MATERIALIZED (SELECT d.client_id, `+freeShard(`client_counts k WHERE k.client_id = d.client_id`)+` AS shard
					FROM d ORDER BY d.client_id)
				UPDATE client_counts k SET ok = k.ok + d.ok, temporary = k.temporary + d.temporary, unavailable = k.unavailable + d.unavailable,
					unsupported = k.unsupported + d.unsupported, unknown = k.unknown + d.unknown
				FROM d JOIN lk ON lk.client_id = d.client_id WHERE k.client_id = lk.client_id AND k.shard = lk.shard`,
				col.chURL, col.chOld, col.chNew, global[0], global[1], global[2], global[3], global[4])
		}
		pending = len(col.chURL) > 0
		return b, nil
	})
	if err == nil && pending {
		s.wake(lms.WakePending)
	}
	return err
}

// DeferHost implements lms.ScheduleStore.
func (s *Store) DeferHost(ctx context.Context, host string, until time.Time) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	f, err := s.frame(ctx, "defer host")
	if err != nil {
		return err
	}
	u := f.in(until)
	return s.read(ctx, "defer host", func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO hosts (name, not_before, deferred) VALUES ($1, $2, $2)
			ON CONFLICT (name) DO UPDATE SET
				not_before = greatest(hosts.not_before, $2), deferred = greatest(hosts.deferred, $2),
				ready_at = CASE WHEN hosts.min_due IS NULL THEN NULL ELSE greatest(hosts.min_due, hosts.not_before, $2) END,
				avail_at = CASE WHEN hosts.min_due IS NULL THEN NULL ELSE greatest(hosts.min_due, hosts.not_before, $2, hosts.held_until) END`,
			text(host), u)
		return err
	})
}

// HoldHost implements lms.ScheduleStore.
func (s *Store) HoldHost(ctx context.Context, holder, host string, now time.Time, lease time.Duration) (time.Time, bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := storerules.CheckHold(host, lease); err != nil {
		return time.Time{}, false, fmt.Errorf("pgstore: %w", err)
	}
	f, err := s.frame(ctx, "hold host")
	if err != nil {
		return time.Time{}, false, err
	}
	n := f.in(now)
	until := n + int64(lease)
	var deferred int64
	ok := false
	err = s.read(ctx, "hold host", func(q querier) error {
		rows, err := q.Query(ctx, `INSERT INTO hosts (name, holder, held_until) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder,
				held_until = CASE WHEN hosts.holder = EXCLUDED.holder THEN greatest(hosts.held_until, EXCLUDED.held_until) ELSE EXCLUDED.held_until END,
				avail_at = CASE WHEN hosts.ready_at IS NULL THEN NULL
					WHEN hosts.holder = EXCLUDED.holder THEN greatest(hosts.ready_at, hosts.held_until, EXCLUDED.held_until)
					ELSE greatest(hosts.ready_at, EXCLUDED.held_until) END
			WHERE hosts.holder = EXCLUDED.holder OR hosts.held_until <= $4
			RETURNING deferred`, text(host), text(holder), until, n)
		if err != nil {
			return err
		}
		ok = false
		_, err = pgx.ForEachRow(rows, []any{&deferred}, func() error { ok = true; return nil })
		return err
	})
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	if deferred > n {
		return f.out(deferred), true, nil
	}
	return time.Time{}, true, nil
}

// LinkCounts implements lms.ScheduleStore.
func (s *Store) LinkCounts(ctx context.Context) (lms.StateCounts, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var c counts
	err := s.read(ctx, "link counts", func(q querier) error {
		return q.QueryRow(ctx, `SELECT coalesce(sum(ok), 0)::bigint, coalesce(sum(temporary), 0)::bigint, coalesce(sum(unavailable), 0)::bigint,
			coalesce(sum(unsupported), 0)::bigint, coalesce(sum(unknown), 0)::bigint FROM link_counts`).Scan(&c[0], &c[1], &c[2], &c[3], &c[4])
	})
	return c.export(), err
}

// dueCount counts the due links of the hosts ready at $1, at most $2.
const dueCount = `SELECT count(*) FROM (
	SELECT 1 FROM (SELECT id FROM hosts WHERE ready_at <= $1 ORDER BY ready_at) h
	CROSS JOIN LATERAL (SELECT 1 FROM links l WHERE l.host_id = h.id AND l.subs > 0 AND l.due <= $1 LIMIT $2) l
	LIMIT $2) x`

// DueCount implements lms.ScheduleStore.
func (s *Store) DueCount(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if limit <= 0 {
		return 0, s.begin(ctx, "due count")
	}
	f, err := s.frame(ctx, "due count")
	if err != nil {
		return 0, err
	}
	var n int
	err = s.read(ctx, "due count", func(q querier) error {
		return q.QueryRow(ctx, dueCount, f.in(now), limit).Scan(&n)
	})
	return n, err
}
