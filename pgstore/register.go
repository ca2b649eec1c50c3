package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
)

// addSubsSQL subscribes client $1 to the URLs $2 (sorted, unique; their
// hosts' ids in $3), as plain registrations or, with a source id in $5, as
// that source's uses (sources.go), and, for each subscription it added,
// creates the link (due at $4) or counts one more subscriber of it, in one
// statement: the URLs go to the server once and the added ones are not
// sent back and forth between the two inserts. The lock order holds
// (subscription rows, then links, each in URL order): the links insert
// reads the added URLs from a, an aggregate over all of s, so every
// subscription row is written before the first link is.
const addSubsSQL = `WITH s AS (INSERT INTO subscriptions (client_id, url, plain, source_id)
		SELECT $1, u, $5::text IS NULL, $5 FROM unnest($2::text[]) AS u ORDER BY u COLLATE "C"
		ON CONFLICT DO NOTHING RETURNING url),
	a AS MATERIALIZED (SELECT array_agg(url) AS added FROM s)
INSERT INTO links (url, host_id, due, subs)
	SELECT x.u, x.h, $4, 1 FROM a CROSS JOIN LATERAL unnest(a.added) AS y(u)
		JOIN unnest($2::text[], $3::int4[]) AS x(u, h) ON x.u = y.u
	ORDER BY x.u COLLATE "C"
	ON CONFLICT (url) DO UPDATE SET subs = links.subs + 1
	RETURNING url, host_id, state, subs, checked <> 0`

// addSubs is changeSubs for a change that only adds subscriptions (a
// registration, URLs a source lists): the subscriptions and links in one
// statement (addSubsSQL), then hosts and counts.
func (s *Store) addSubs(ctx context.Context, tx pgx.Tx, ch subChange) (int, error) {
	if len(ch.add) == 0 {
		return 0, nil
	}
	hosts := make([]int32, len(ch.add))
	for i, u := range ch.add {
		hosts[i] = ch.hostIDs[lms.HostKey(u)]
	}
	rows, err := tx.Query(ctx, addSubsSQL, ch.client, ch.add, hosts, ch.now, ch.sourceArg())
	if err != nil {
		return 0, err
	}
	var in map[string]bool // the added URLs, when ch.look or ch.known wants the others
	if ch.look != nil || ch.known != nil {
		in = make(map[string]bool, len(ch.add))
	}
	var client, global counts
	touched := map[int32]bool{}
	added := 0
	var u string
	var hid, subs int32
	var st int16
	var checked bool
	_, err = pgx.ForEachRow(rows, []any{&u, &hid, &st, &subs, &checked}, func() error {
		added++
		if in != nil {
			in[u] = true
			if checked && ch.look != nil {
				*ch.look = append(*ch.look, u)
			}
		}
		client.add(st, 1)
		if subs == 1 {
			global.add(st, 1)
			touched[hid] = true
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if in != nil && added < len(ch.add) {
		for _, u := range ch.add {
			if in[u] {
				continue
			}
			if ch.look != nil {
				*ch.look = append(*ch.look, u)
			}
			if ch.known != nil {
				*ch.known = append(*ch.known, u)
			}
		}
	}
	if added == 0 {
		return 0, nil
	}
	return added, s.finishSubs(ctx, tx, ch, client, global, touched)
}
