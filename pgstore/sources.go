package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// The sources of lms.SourceStore (migrations 0002_sources.sql,
// 0014_source_links_array.sql and 0017_subscription_source.sql). Every
// change of a client's sources holds the client's row FOR UPDATE, which
// excludes Subscribe and Unsubscribe (KEY SHARE) and ReplaceSubscriptions
// of that client, so the rule "subscribed while plain or used by a source"
// is kept by transactions that see each other's results.
//
// A source's row holds its URLs (sources.links, sorted): GetSource,
// ListSources and a put's diff read them. Which sources use a URL (link
// answers, webhooks, the rule) is in the client's subscription row: plain
// says a plain registration holds it, source_id names the one source that
// uses it when that use is recorded there. The other uses are source_links
// rows, found by URL. A URL's uses are either its source_id or its
// source_links rows, never both: its first use goes to source_id, a second
// one moves both to source_links, where they stay. So most links of a page
// cost no row beyond the subscription a plain registration writes too.

// notUsedBySource is the condition on a subscriptions row (client $1) that
// no source of the client uses its URL.
const notUsedBySource = `source_id IS NULL AND NOT EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = $1 AND sl.url = subscriptions.url)`

// lockedUpdate is an UPDATE of one client's subscription rows (the client
// id is $1) for which cond holds, that first locks them in URL order (see
// lockedDelete).
func lockedUpdate(set, cond string) string {
	return `WITH lk AS (SELECT url FROM subscriptions WHERE client_id = $1 AND (` + cond + `) ORDER BY url FOR UPDATE)
		UPDATE subscriptions t SET ` + set + ` FROM lk WHERE t.client_id = $1 AND t.url = lk.url`
}

// setPlain records that the client's subscriptions for which cond holds
// (args are its $2…) are plain registrations, or with plain false that
// they are not (any more).
func setPlain(ctx context.Context, tx pgx.Tx, clientID string, plain bool, cond string, args ...any) error {
	set, was := "plain = true", " AND NOT plain"
	if !plain {
		set, was = "plain = false", " AND plain"
	}
	_, err := tx.Exec(ctx, lockedUpdate(set, "("+cond+")"+was), append([]any{clientID}, args...)...)
	return err
}

// deleteSourceRows removes every source of the client (DeleteClient).
func deleteSourceRows(ctx context.Context, tx pgx.Tx, clientID string) error {
	for _, table := range []string{"source_links", "sources"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE client_id = $1`, clientID); err != nil {
			return err
		}
	}
	return nil
}

func sourceNotFound(clientID, id string) error {
	return pass(fmt.Errorf("pgstore: source %q of client %q: %w", id, clientID, lms.ErrNotFound))
}

// useKnown records that the source sourceID of the client now uses known
// (sorted), URLs the client was subscribed to already: a URL without a use
// gets it as its source_id; a URL with one in source_id moves that and the
// new one to source_links; a URL whose uses are in source_links gets a row
// more. The plain flag stays as it is.
func useKnown(ctx context.Context, tx pgx.Tx, clientID, sourceID string, known []string) error {
	if len(known) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `WITH k AS MATERIALIZED (SELECT s.url, s.source_id AS one,
				EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = $1 AND sl.url = s.url) AS many
			FROM subscriptions s WHERE s.client_id = $1 AND s.url = ANY($2) ORDER BY s.url FOR UPDATE OF s),
		ins AS (INSERT INTO source_links (client_id, url, source_id)
			SELECT $1, url, one FROM k WHERE one IS NOT NULL
			UNION ALL SELECT $1, url, $3 FROM k WHERE one IS NOT NULL OR many)
		UPDATE subscriptions t SET source_id = CASE WHEN k.one IS NULL THEN $3 END
			FROM k WHERE t.client_id = $1 AND t.url = k.url AND (k.one IS NOT NULL OR NOT k.many)`, clientID, known, sourceID)
	return err
}

// release ends the uses of rm (sorted URLs the source sourceID of the
// client no longer lists), then the subscriptions of those that are neither
// plain nor used by another source, and brings the rest in line
// (changeSubs). It returns how many subscriptions ended.
func (s *Store) release(ctx context.Context, tx pgx.Tx, clientID, sourceID string, rm []string) (int, error) {
	deleted, err := endUses(ctx, tx, clientID, sourceID, rm)
	if err != nil || len(deleted) == 0 {
		return 0, err
	}
	_, err = s.changeSubs(ctx, tx, subChange{client: clientID, removed: deleted})
	return len(deleted), err
}

// endUses is release up to the subscriptions: it ends the uses of rm and
// deletes the subscriptions left neither plain nor used, whose URLs it
// returns for changeSubs.
func endUses(ctx context.Context, tx pgx.Tx, clientID, sourceID string, rm []string) ([]string, error) {
	if len(rm) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	b.Queue(lockedUpdate("source_id = NULL", "url = ANY($2) AND source_id = $3"), clientID, rm, sourceID)
	b.Queue(`DELETE FROM source_links WHERE client_id = $1 AND url = ANY($2) AND source_id = $3`, clientID, rm, sourceID)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return deleteSubscriptions(ctx, tx, clientID, "url = ANY($2) AND NOT plain AND "+notUsedBySource, rm)
}

// PutSource implements lms.SourceStore.
func (s *Store) PutSource(ctx context.Context, clientID string, src lms.Source, now time.Time) (int, int, error) {
	src, err := storerules.NewSource(src)
	if err != nil {
		return 0, 0, fmt.Errorf("pgstore: %w", err)
	}
	ctx, cancel := s.callN(ctx, len(src.Links))
	defer cancel()
	f, err := s.frame(ctx, "put source")
	if err != nil {
		return 0, 0, err
	}
	ids, err := s.ensureHosts(ctx, src.Links)
	if err != nil {
		return 0, 0, err
	}
	var added, removed int
	err = s.tx(ctx, "put source", func(tx pgx.Tx) error {
		added, removed = 0, 0
		// The client's row lock (see above), the source's list before, and
		// the source's row, in one round trip. The list is read by a
		// statement of its own, after the lock: a SELECT … FOR UPDATE OF c
		// that waited for the lock rechecks only c's row, and would have
		// returned the list of its snapshot, from before the put that held
		// the lock. The row keeps its array (and its TOAST) when the list
		// is unchanged.
		links := src.Links
		if links == nil {
			links = []string{}
		}
		b := &pgx.Batch{}
		var old []string
		b.Queue(`SELECT 1 FROM clients WHERE id = $1 FOR UPDATE`, clientID).QueryRow(func(row pgx.Row) error {
			var one int
			err := row.Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound(clientID)
			}
			return err
		})
		b.Queue(`SELECT links FROM sources WHERE client_id = $1 AND id = $2`, clientID, src.ID).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&old); !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			return nil
		})
		b.Queue(`INSERT INTO sources (client_id, id, updated, title, edit_url, owner, links) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (client_id, id) DO UPDATE SET updated = EXCLUDED.updated, title = EXCLUDED.title, edit_url = EXCLUDED.edit_url, owner = EXCLUDED.owner,
				links = CASE WHEN sources.links = EXCLUDED.links THEN sources.links ELSE EXCLUDED.links END`,
			clientID, src.ID, nanos(now), src.Title, src.EditURL, src.Owner, links)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		add, rm := storerules.Diff(old, src.Links), storerules.Diff(src.Links, old)
		// The uses of rm end first, then one changeSubs subscribes to add
		// (with this source as their use; those subscribed already come
		// back in known and get the use apart) and brings the links of
		// both in line: one pass over links, hosts and counts in the lock
		// order, where two (add, then rm) deadlocked with other clients'
		// calls.
		gone, err := endUses(ctx, tx, clientID, src.ID, rm)
		if err != nil {
			return err
		}
		if len(add) == 0 && len(gone) == 0 {
			return nil
		}
		var known []string
		ch := subChange{client: clientID, add: add, hostIDs: ids, removed: gone, now: f.in(now), source: src.ID, known: &known}
		if added, err = s.changeSubs(ctx, tx, ch); err != nil {
			return err
		}
		removed = len(gone)
		return useKnown(ctx, tx, clientID, src.ID, known)
	})
	if err != nil {
		return 0, 0, err
	}
	if added > 0 {
		s.wake(lms.WakeLinksAdded)
	}
	return added, removed, nil
}

// GetSource implements lms.SourceStore.
func (s *Store) GetSource(ctx context.Context, clientID, sourceID string) (lms.Source, error) {
	var out lms.Source
	err := s.read(ctx, "get source", func(q querier) error {
		var upd int64
		out = lms.Source{SourceRef: lms.SourceRef{ID: sourceID}}
		err := q.QueryRow(ctx, `SELECT updated, title, edit_url, owner, links FROM sources WHERE client_id = $1 AND id = $2`, clientID, sourceID).
			Scan(&upd, &out.Title, &out.EditURL, &out.Owner, &out.Links)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := clientExists(ctx, q, clientID); err != nil {
				return err
			}
			return sourceNotFound(clientID, sourceID)
		}
		if err != nil {
			return err
		}
		out.Updated = fromNanos(upd)
		if out.Links == nil {
			out.Links = []string{}
		}
		return nil
	})
	if err != nil {
		return lms.Source{}, err
	}
	return out, nil
}

// DeleteSource implements lms.SourceStore.
func (s *Store) DeleteSource(ctx context.Context, clientID, sourceID string) (int, error) {
	var removed int
	err := s.tx(ctx, "delete source", func(tx pgx.Tx) error {
		if err := lockClient(ctx, tx, clientID, "UPDATE"); err != nil {
			return err
		}
		var rm []string
		err := tx.QueryRow(ctx, `DELETE FROM sources WHERE client_id = $1 AND id = $2 RETURNING links`, clientID, sourceID).Scan(&rm)
		if errors.Is(err, pgx.ErrNoRows) {
			return sourceNotFound(clientID, sourceID)
		}
		if err != nil {
			return err
		}
		removed, err = s.release(ctx, tx, clientID, sourceID, rm)
		return err
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// ListSources implements lms.SourceStore. The counts come from a join of
// the page's sources with the links they list; a link row that is missing
// counts as unknown.
func (s *Store) ListSources(ctx context.Context, clientID string, p lms.SourcePage) ([]lms.SourceSummary, error) {
	state := int16(-1)
	if p.State != "" {
		state = stateIndex(p.State)
	}
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	return clientRows(ctx, s, "list sources", clientID, func(row pgx.CollectableRow) (lms.SourceSummary, error) {
		var x lms.SourceSummary
		var upd int64
		var c [5]int
		err := row.Scan(&x.ID, &upd, &x.Title, &x.EditURL, &x.Owner, &c[0], &c[1], &c[2], &c[3], &c[4])
		x.Updated = fromNanos(upd)
		for i, st := range lms.States() {
			x.Counts.Add(st, c[i])
		}
		return x, err
	}, `SELECT s.id, s.updated, s.title, s.edit_url, s.owner,
			count(sl.url) FILTER (WHERE l.state = 0), count(sl.url) FILTER (WHERE l.state = 1),
			count(sl.url) FILTER (WHERE l.state = 2), count(sl.url) FILTER (WHERE l.state = 3),
			count(sl.url) FILTER (WHERE coalesce(l.state, 4) = 4)
		FROM sources s
		LEFT JOIN LATERAL unnest(s.links) AS sl(url) ON true
		LEFT JOIN links l ON l.url = sl.url
		WHERE s.client_id = $1 AND s.id > $2
		GROUP BY s.id, s.updated, s.title, s.edit_url, s.owner
		HAVING $3::smallint < 0 OR count(sl.url) FILTER (WHERE coalesce(l.state, 4) = $3::smallint) > 0
		ORDER BY s.id LIMIT $4`, clientID, p.After, state, limit)
}

// LinkSources implements lms.SourceLookup.
func (s *Store) LinkSources(ctx context.Context, clientID string, urls []string) (map[string][]lms.SourceRef, error) {
	type use struct {
		url string
		ref lms.SourceRef
	}
	out := make(map[string][]lms.SourceRef)
	var uses []use
	err := s.read(ctx, "link sources", func(q querier) error {
		if err := clientExists(ctx, q, clientID); err != nil {
			return err
		}
		// A URL's uses: its subscription's source_id or its source_links
		// rows (see above).
		rows, err := q.Query(ctx, `SELECT u.url, s.id, s.title, s.edit_url, s.owner
			FROM (SELECT url, source_id FROM subscriptions WHERE client_id = $1 AND url = ANY($2) AND source_id IS NOT NULL
				UNION ALL SELECT url, source_id FROM source_links WHERE client_id = $1 AND url = ANY($2)) u
			JOIN sources s ON s.client_id = $1 AND s.id = u.source_id
			ORDER BY u.url, s.id`, clientID, urls)
		if err != nil {
			return err
		}
		uses, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (use, error) {
			var u use
			err := row.Scan(&u.url, &u.ref.ID, &u.ref.Title, &u.ref.EditURL, &u.ref.Owner)
			return u, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, u := range uses {
		out[u.url] = append(out[u.url], u.ref)
	}
	return out, nil
}
