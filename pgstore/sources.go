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

// The sources of lms.SourceStore (migrations 0002_sources.sql and
// 0014_source_links_array.sql). Every change of a client's sources holds
// the client's row FOR UPDATE, which excludes Subscribe and Unsubscribe
// (KEY SHARE) and ReplaceSubscriptions of that client, so the rule
// "subscribed while plain or used by a source" is kept by transactions that
// see each other's results.
//
// A source's row holds its URLs (sources.links, sorted); source_links has a
// row per URL and source, found by URL. A subscription whose URL no source
// uses is plain; one whose URL a source uses is plain only if source_plain
// holds it. So a source's URLs cost one row each, and source_plain has rows
// only for URLs both registered plainly and listed by a source.

// notUsedBySource is the condition on a subscriptions row (client $1) that
// no source of the client lists its URL.
const notUsedBySource = `NOT EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = $1 AND sl.url = subscriptions.url)`

// plainAgain records that urls (sorted) are plain registrations of the
// client: those a source uses get a source_plain row.
func plainAgain(ctx context.Context, tx pgx.Tx, clientID string, urls []string) error {
	_, err := tx.Exec(ctx, `INSERT INTO source_plain (client_id, url)
		SELECT $1, u FROM unnest($2::text[]) AS u
		WHERE EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = $1 AND sl.url = u)
		ORDER BY u COLLATE "C" ON CONFLICT DO NOTHING`, clientID, urls)
	return err
}

// keepForSources ends the plain registrations of urls, or (except) of all
// but urls, for the URLs sources of the client use (their subscriptions
// stay, held by the sources alone).
func keepForSources(ctx context.Context, tx pgx.Tx, clientID string, urls []string, except bool) error {
	cond := `url = ANY($2)`
	if except {
		cond = `NOT (url = ANY($2))`
	}
	_, err := tx.Exec(ctx, `DELETE FROM source_plain WHERE client_id = $1 AND `+cond, clientID, urls)
	return err
}

// deleteSourceRows removes every source of the client (DeleteClient).
func deleteSourceRows(ctx context.Context, tx pgx.Tx, clientID string) error {
	for _, table := range []string{"source_plain", "source_links", "sources"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE client_id = $1`, clientID); err != nil {
			return err
		}
	}
	return nil
}

func sourceNotFound(clientID, id string) error {
	return pass(fmt.Errorf("pgstore: source %q of client %q: %w", id, clientID, lms.ErrNotFound))
}

// release ends the subscriptions of rm (URLs a source no longer lists; its
// source_links rows are gone) that nothing holds any more, and brings the
// rest in line (changeSubs). A URL no source uses any more that is a plain
// registration loses its source_plain row and stays.
func (s *Store) release(ctx context.Context, tx pgx.Tx, clientID string, rm []string) (int, error) {
	if len(rm) == 0 {
		return 0, nil
	}
	rows, err := tx.Query(ctx, `WITH unused AS MATERIALIZED (SELECT u FROM unnest($2::text[]) AS u
			WHERE NOT EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = $1 AND sl.url = u)),
		plain AS (DELETE FROM source_plain sp USING unused WHERE sp.client_id = $1 AND sp.url = unused.u RETURNING sp.url)
		SELECT u FROM unused WHERE u NOT IN (SELECT url FROM plain) ORDER BY u COLLATE "C"`, clientID, rm)
	if err != nil {
		return 0, err
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(gone) == 0 {
		return 0, err
	}
	deleted, err := deleteSubscriptions(ctx, tx, clientID, "url = ANY($2)", gone)
	if err != nil {
		return 0, err
	}
	_, err = s.changeSubs(ctx, tx, subChange{client: clientID, removed: deleted})
	return len(deleted), err
}

// queueUseURLs queues on b the record that the source sourceID of the
// client lists add (sorted, not listed by it before).
func queueUseURLs(b *pgx.Batch, clientID, sourceID string, add []string) {
	b.Queue(`INSERT INTO source_links (client_id, url, source_id)
		SELECT $1, u, $3 FROM unnest($2::text[]) AS u ORDER BY u COLLATE "C"`, clientID, add, sourceID)
}

// plainAlready gives the URLs of known, which the client was subscribed to
// before the source sourceID listed them, their source_plain row where no
// other source lists them: those subscriptions were plain registrations and
// stay so.
func plainAlready(ctx context.Context, tx pgx.Tx, clientID, sourceID string, known []string) error {
	if len(known) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO source_plain (client_id, url)
		SELECT $1, u FROM unnest($2::text[]) AS u
		WHERE NOT EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = $1 AND sl.url = u AND sl.source_id <> $3)
		ORDER BY u COLLATE "C" ON CONFLICT DO NOTHING`, clientID, known, sourceID)
	return err
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
		// The client's row lock (see above) and the source's list before.
		var old []string
		err := tx.QueryRow(ctx, `SELECT s.links FROM clients c LEFT JOIN sources s ON s.client_id = c.id AND s.id = $2
			WHERE c.id = $1 FOR UPDATE OF c`, clientID, src.ID).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(clientID)
		}
		if err != nil {
			return err
		}
		add, rm := storerules.Diff(old, src.Links), storerules.Diff(src.Links, old)
		var links any = src.Links
		if len(add) == 0 && len(rm) == 0 && old != nil {
			links = nil // unchanged: the row keeps its array
		}
		// The source's row, the uses it drops and those it adds, in one
		// round trip.
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO sources (client_id, id, updated, title, edit_url, owner, links) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::text[], '{}'))
			ON CONFLICT (client_id, id) DO UPDATE SET updated = EXCLUDED.updated, title = EXCLUDED.title, edit_url = EXCLUDED.edit_url, owner = EXCLUDED.owner,
				links = coalesce($7::text[], sources.links)`,
			clientID, src.ID, nanos(now), src.Title, src.EditURL, src.Owner, links)
		if len(rm) > 0 {
			b.Queue(`DELETE FROM source_links WHERE client_id = $1 AND url = ANY($2) AND source_id = $3`, clientID, rm, src.ID)
		}
		if len(add) > 0 {
			queueUseURLs(b, clientID, src.ID, add)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if len(add) > 0 {
			// Subscribe to all of add; those subscribed already come back
			// in known.
			var known []string
			if added, err = s.changeSubs(ctx, tx, subChange{client: clientID, add: add, hostIDs: ids, now: f.in(now), known: &known}); err != nil {
				return err
			}
			if err := plainAlready(ctx, tx, clientID, src.ID, known); err != nil {
				return err
			}
		}
		removed, err = s.release(ctx, tx, clientID, rm)
		return err
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
		if _, err := tx.Exec(ctx, `DELETE FROM source_links WHERE client_id = $1 AND url = ANY($2) AND source_id = $3`, clientID, rm, sourceID); err != nil {
			return err
		}
		removed, err = s.release(ctx, tx, clientID, rm)
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
		rows, err := q.Query(ctx, `SELECT sl.url, s.id, s.title, s.edit_url, s.owner
			FROM source_links sl JOIN sources s ON s.client_id = sl.client_id AND s.id = sl.source_id
			WHERE sl.client_id = $1 AND sl.url = ANY($2) ORDER BY sl.url, s.id`, clientID, urls)
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
