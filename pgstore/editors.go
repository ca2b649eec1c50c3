package pgstore

// The editors' role (lms.EditorStore): each link's history of state
// changes (table link_history), re-check now, and ignores per client
// (subscriptions.ignore). Schema in migrations/0008_editors.sql.

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/validate"
)

var _ lms.EditorStore = (*Store)(nil)

// history collects the changes of one RecordResults, column by column.
type history struct {
	url, reason, final []string
	at                 []int64
	code               []int32
	state              []int16
}

// add appends the change c.Apply just made to url.
func (h *history) add(url string, c *storerules.Check) {
	h.url = append(h.url, url)
	h.at = append(h.at, c.Checked)
	h.state = append(h.state, int16(c.St))
	h.code = append(h.code, c.Code)
	h.reason = append(h.reason, text(c.Reason))
	h.final = append(h.final, text(c.Final))
}

// queue writes the changes and trims the histories of their links to r,
// in the transaction of the results.
func (h *history) queue(b *pgx.Batch, r lms.HistoryRetention) {
	if len(h.url) == 0 || r.MaxChanges < 0 {
		return
	}
	b.Queue(`INSERT INTO link_history (url, at, state, code, reason, final_url)
		SELECT * FROM unnest($1::text[], $2::int8[], $3::int2[], $4::int4[], $5::text[], $6::text[])
		ON CONFLICT (url, at) DO UPDATE SET state = EXCLUDED.state, code = EXCLUDED.code, reason = EXCLUDED.reason, final_url = EXCLUDED.final_url`,
		h.url, h.at, h.state, h.code, h.reason, h.final)
	// Per link, two index probes: the newest change beyond MaxChanges
	// and the newest change; what is at or before the first, or older
	// than the second by more than MaxAge, goes.
	var age *int64
	if r.MaxAge >= 0 {
		a := int64(r.MaxAge)
		age = &a
	}
	// The rows to go are found per link through the primary key (LATERAL
	// … OFFSET 0: a join the planner may not flatten, which it planned
	// over the whole table) and deleted by their ctid (the link's row
	// lock, taken before, keeps them where they are).
	b.Queue(`DELETE FROM link_history WHERE ctid = ANY(ARRAY(
			SELECT d.ctid FROM unnest($1::text[]) AS u(url)
			CROSS JOIN LATERAL (SELECT
				(SELECT at FROM link_history h WHERE h.url = u.url ORDER BY at DESC OFFSET $2 LIMIT 1) AS beyond,
				(SELECT max(at) FROM link_history h WHERE h.url = u.url) - $3::bigint AS oldest OFFSET 0) x
			CROSS JOIN LATERAL (SELECT ctid FROM link_history d WHERE d.url = u.url AND (d.at <= x.beyond OR d.at < x.oldest) OFFSET 0) d))`,
		h.url, r.MaxChanges, age)
}

// queueEndIgnores ends the ignores that last until the links of urls
// change (after their pending notifications were written).
func queueEndIgnores(b *pgx.Batch, urls []string) {
	b.Queue(`UPDATE subscriptions SET ignore = 0 WHERE url = ANY($1) AND ignore = 1`, urls)
}

// LinkHistory implements lms.EditorStore.
func (s *Store) LinkHistory(ctx context.Context, url string, before time.Time, limit int) ([]lms.HistoryEntry, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := storerules.CheckHistory(limit); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if validate.URL(url) != nil { // cannot be stored, so it is not there
		return nil, fmt.Errorf("pgstore: link %.40q: %w", url, lms.ErrNotFound)
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	b := int64(math.MaxInt64)
	if !before.IsZero() {
		b = nanos(before)
	}
	return readRows(ctx, s, "link history", scanEntry, func(q querier) error {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM links WHERE url = $1)`, text(url)).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return pass(fmt.Errorf("pgstore: link %q: %w", url, lms.ErrNotFound))
		}
		return nil
	}, `SELECT at, state, code, reason, final_url FROM link_history WHERE url = $1 AND at < $2 ORDER BY at DESC LIMIT $3`, text(url), b, lim)
}

func scanEntry(row pgx.CollectableRow) (lms.HistoryEntry, error) {
	var e lms.HistoryEntry
	var at int64
	var st int16
	var code int32
	if err := row.Scan(&at, &st, &code, &e.Reason, &e.FinalURL); err != nil {
		return e, err
	}
	e.Time, e.State, e.Code = fromNanos(at), stateOf(st), int(code)
	return e, nil
}

// RecheckLinks implements lms.EditorStore. The links are locked in URL
// order, like RecordResults does. A link claimed at that moment (its due
// time is the end of the claim's lease) is made due too, and may be
// checked once more after the check in flight, paced like any other.
func (s *Store) RecheckLinks(ctx context.Context, clientID string, urls []string, now time.Time) (int, error) {
	ctx, cancel := s.callN(ctx, len(urls))
	defer cancel()
	n := 0
	err := s.tx(ctx, "recheck links", func(tx pgx.Tx) error {
		n = 0
		if err := clientExists(ctx, tx, clientID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH t AS (
				SELECT l.url FROM links l JOIN subscriptions s ON s.url = l.url AND s.client_id = $1
				WHERE l.url = ANY($2) AND l.due > $3 ORDER BY l.url FOR UPDATE OF l)
			UPDATE links l SET due = $3 FROM t WHERE l.url = t.url RETURNING l.host_id`, clientID, sortedUnique(urls), nanos(now))
		if err != nil {
			return err
		}
		touched := map[int32]bool{}
		var id int32
		if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { touched[id] = true; n++; return nil }); err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueHostRefresh(b, touched)
		return tx.SendBatch(ctx, b).Close()
	})
	if err == nil && n > 0 {
		s.wake(lms.WakeLinksAdded)
	}
	return n, err
}

// SetIgnore implements lms.EditorStore.
func (s *Store) SetIgnore(ctx context.Context, clientID string, urls []string, mode lms.IgnoreMode) (int, error) {
	ctx, cancel := s.callN(ctx, len(urls))
	defer cancel()
	if err := storerules.CheckIgnore(mode); err != nil {
		return 0, fmt.Errorf("pgstore: %w", err)
	}
	n := 0
	err := s.tx(ctx, "set ignore", func(tx pgx.Tx) error {
		if err := clientExists(ctx, tx, clientID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE subscriptions SET ignore = $3
			WHERE client_id = $1 AND url = ANY($2) AND ignore <> $3`, clientID, sortedUnique(urls), int16(mode))
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		if mode == lms.NotIgnored {
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM pending WHERE client_id = $1 AND url = ANY($2)`, clientID, sortedUnique(urls))
		return err
	})
	return n, err
}

// ClientLink implements lms.EditorStore.
func (s *Store) ClientLink(ctx context.Context, clientID, url string) (lms.IgnoredLink, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if validate.URL(url) != nil { // cannot be stored, so it is not there
		url = ""
	}
	ls, err := clientRows(ctx, s, "client link", clientID, scanIgnored, `SELECT `+linkColumns+`, s.ignore FROM subscriptions s
			JOIN links l ON l.url = s.url JOIN hosts h ON h.id = l.host_id
			WHERE s.client_id = $1 AND s.url = $2`, clientID, text(url))
	if err != nil {
		return lms.IgnoredLink{}, err
	}
	if len(ls) == 0 {
		return lms.IgnoredLink{}, fmt.Errorf("pgstore: client %q, link %q: %w", clientID, url, lms.ErrNotFound)
	}
	return ls[0], nil
}

func scanIgnored(row pgx.CollectableRow) (lms.IgnoredLink, error) {
	var l lms.IgnoredLink
	var code, failures, subs int32
	var stv int16
	var checked, changed, due, rt, failSince int64
	var mode int16
	if err := row.Scan(&l.URL, &l.Host, &stv, &l.Reason, &code, &checked, &changed, &due, &failures, &l.FinalURL, &l.Permanent, &rt, &subs, &l.Kind, &failSince, &mode); err != nil {
		return l, err
	}
	l.State, l.Code, l.Failures, l.Subscribers = stateOf(stv), int(code), int(failures), int(subs)
	l.LastChecked, l.LastChanged, l.NextDue, l.ResponseTime = fromNanos(checked), fromNanos(changed), fromNanos(due), time.Duration(rt)
	l.FailingSince, l.Mode = fromNanos(failSince), lms.IgnoreMode(mode)
	return l, nil
}

// IgnoredLinks implements lms.EditorStore.
func (s *Store) IgnoredLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.IgnoredLink, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	state := int16(-1)
	if p.State != "" {
		if !p.State.Valid() {
			return []lms.IgnoredLink{}, nil
		}
		state = stateIndex(p.State)
	}
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	return clientRows(ctx, s, "ignored links", clientID, scanIgnored, `SELECT `+linkColumns+`, s.ignore FROM subscriptions s
			JOIN links l ON l.url = s.url JOIN hosts h ON h.id = l.host_id
			WHERE s.client_id = $1 AND s.ignore <> 0 AND s.url > $2 AND ($3 < 0 OR l.state = $3)
			ORDER BY s.url LIMIT $4`, clientID, text(p.After), state, limit)
}
