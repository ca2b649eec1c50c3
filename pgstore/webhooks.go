package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
)

// hookColumns are the columns scanHook reads.
const hookColumns = `id, type, created, attempts, status, error, next_attempt, delivered`

// Its times are moved from the database's clock into the caller's by f.
func scanHook(row pgx.CollectableRow, clientID string, body bool, f frame) (lms.WebhookEvent, error) {
	var ev lms.WebhookEvent
	var created, next, delivered int64
	dest := []any{&ev.ID, &ev.Type, &created, &ev.Attempts, &ev.Status, &ev.Error, &next, &delivered}
	if body {
		dest = append(dest, &ev.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return ev, err
	}
	ev.ClientID, ev.Created, ev.NextAttempt, ev.Delivered = clientID, f.out(created), f.out(next), f.out(delivered)
	return ev, nil
}

// trimHooks drops the client's oldest finished events beyond the log size.
func trimHooks(ctx context.Context, tx pgx.Tx, clientID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM webhook_events WHERE n IN (
		SELECT n FROM webhook_events WHERE client_id = $1 AND NOT (delivered = 0 AND next_attempt <> 0)
		ORDER BY n DESC OFFSET $2)`, clientID, lms.WebhookLogSize)
	return err
}

// EnqueueWebhook implements lms.WebhookStore.
func (s *Store) EnqueueWebhook(ctx context.Context, ev lms.WebhookEvent, handed []lms.PendingUpdate, ack bool) error {
	if ev.ID == "" {
		return fmt.Errorf("pgstore: webhook event without id: %w", lms.ErrInvalid)
	}
	id := ev.ClientID
	urls := make([]string, 0, len(handed))
	seqs := make([]int64, 0, len(handed))
	for _, d := range handed {
		if text(d.URL) == d.URL {
			urls, seqs = append(urls, d.URL), append(seqs, int64(d.Seq))
		}
	}
	f := s.clock.frame()
	err := s.tx(ctx, "enqueue webhook", func(tx pgx.Tx) error {
		if err := lockClient(ctx, tx, id, "KEY SHARE"); err != nil {
			return err
		}
		var dup bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_events WHERE client_id = $1 AND id = $2)`, id, ev.ID).Scan(&dup); err != nil {
			return err
		}
		if dup {
			return pass(fmt.Errorf("pgstore: webhook event %q: %w", ev.ID, lms.ErrExists))
		}
		if len(urls) > 0 && ack {
			// As AckUpdates: the rows locked in URL order.
			if _, err := tx.Exec(ctx, `WITH lk AS (SELECT url FROM pending WHERE client_id = $1 AND url = ANY($2) ORDER BY url FOR UPDATE)
				DELETE FROM pending p USING unnest($2::text[], $3::int8[]) AS d(url, seq), lk
				WHERE p.client_id = $1 AND p.url = d.url AND p.seq = d.seq AND lk.url = d.url`, id, urls, seqs); err != nil {
				return err
			}
		} else if len(urls) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO webhook_handed (client_id, url, seq)
				SELECT $1, d.url, d.seq FROM unnest($2::text[], $3::int8[]) AS d(url, seq)
				JOIN pending p ON p.client_id = $1 AND p.url = d.url AND p.seq = d.seq
				ORDER BY d.url
				ON CONFLICT (client_id, url) DO UPDATE SET seq = excluded.seq`, id, urls, seqs); err != nil {
				return err
			}
		}
		// Marks of changes acknowledged or replaced since are void.
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_handed h WHERE h.client_id = $1 AND NOT EXISTS (
			SELECT 1 FROM pending p WHERE p.client_id = h.client_id AND p.url = h.url AND p.seq = h.seq)`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_events (client_id, id, type, created, attempts, status, error, next_attempt, delivered, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			id, text(ev.ID), text(ev.Type), f.in(ev.Created), ev.Attempts, ev.Status, text(ev.Error), f.in(ev.NextAttempt), f.in(ev.Delivered), ev.Body); err != nil {
			return err
		}
		return trimHooks(ctx, tx, id)
	})
	return err
}

// UnhandedUpdates implements lms.WebhookStore.
func (s *Store) UnhandedUpdates(ctx context.Context, clientID string, ps []lms.PendingUpdate) ([]lms.PendingUpdate, error) {
	handed := map[string]int64{}
	err := s.read(ctx, "unhanded updates", func(q querier) error {
		if err := clientExists(ctx, q, clientID); err != nil {
			return err
		}
		urls := make([]string, len(ps))
		for i, p := range ps {
			urls[i] = text(p.URL)
		}
		rows, err := q.Query(ctx, `SELECT url, seq FROM webhook_handed WHERE client_id = $1 AND url = ANY($2)`, clientID, urls)
		if err != nil {
			return err
		}
		clear(handed)
		var u string
		var seq int64
		_, err = pgx.ForEachRow(rows, []any{&u, &seq}, func() error { handed[u] = seq; return nil })
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []lms.PendingUpdate{}
	for _, p := range ps {
		if seq, ok := handed[p.URL]; !ok || uint64(seq) != p.Seq {
			out = append(out, p)
		}
	}
	return out, nil
}

// WebhookClients implements lms.WebhookStore.
func (s *Store) WebhookClients(ctx context.Context) ([]string, error) {
	return readRows(ctx, s, "webhook clients", pgx.RowTo[string], nil,
		`SELECT DISTINCT client_id FROM webhook_events WHERE delivered = 0 AND next_attempt <> 0 ORDER BY client_id`)
}

// ClaimWebhook implements lms.WebhookStore. The client's oldest open event
// is locked (FOR UPDATE) while its hold is checked and taken, so two
// processes never both take it.
func (s *Store) ClaimWebhook(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (lms.WebhookEvent, bool, error) {
	if lease <= 0 {
		return lms.WebhookEvent{}, false, fmt.Errorf("pgstore: claim webhook for %v: %w", lease, lms.ErrInvalid)
	}
	f, err := s.frame(ctx, "claim webhook")
	if err != nil {
		return lms.WebhookEvent{}, false, err
	}
	var ev lms.WebhookEvent
	ok := false
	err = s.tx(ctx, "claim webhook", func(tx pgx.Tx) error {
		ok = false
		if err := clientExists(ctx, tx, clientID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT n, holder, held_until, `+hookColumns+`, body FROM webhook_events
			WHERE client_id = $1 AND delivered = 0 AND next_attempt <> 0 ORDER BY n LIMIT 1 FOR UPDATE`, clientID)
		if err != nil {
			return err
		}
		var n, until int64
		var held string
		e, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (lms.WebhookEvent, error) {
			var e lms.WebhookEvent
			var created, next, delivered int64
			err := row.Scan(&n, &held, &until, &e.ID, &e.Type, &created, &e.Attempts, &e.Status, &e.Error, &next, &delivered, &e.Body)
			e.ClientID, e.Created, e.NextAttempt, e.Delivered = clientID, f.out(created), f.out(next), f.out(delivered)
			return e, err
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		// Compared in the database's clock.
		at := f.in(now)
		if at < f.in(e.NextAttempt) || (held != "" && held != holder && at < until) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_events SET holder = $2, held_until = $3 WHERE n = $1`, n, text(holder), at+int64(lease)); err != nil {
			return err
		}
		ev, ok = e, true
		return nil
	})
	if err != nil {
		return lms.WebhookEvent{}, false, err
	}
	return ev, ok, nil
}

// RecordWebhookAttempt implements lms.WebhookStore.
func (s *Store) RecordWebhookAttempt(ctx context.Context, clientID string, d lms.WebhookDelivery) error {
	f := s.clock.frame()
	return s.tx(ctx, "record webhook attempt", func(tx pgx.Tx) error {
		if err := clientExists(ctx, tx, clientID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_events SET attempts = $3, status = $4, error = $5, next_attempt = $6, delivered = $7,
			holder = '', held_until = 0 WHERE client_id = $1 AND id = $2`,
			clientID, text(d.ID), d.Attempts, d.Status, text(d.Error), f.in(d.NextAttempt), f.in(d.Delivered))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pass(fmt.Errorf("pgstore: webhook event %q: %w", d.ID, lms.ErrNotFound))
		}
		return trimHooks(ctx, tx, clientID)
	})
}

// WebhookDeliveries implements lms.WebhookStore.
func (s *Store) WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]lms.WebhookDelivery, error) {
	if limit < 0 {
		return nil, fmt.Errorf("pgstore: webhook deliveries limit %d: %w", limit, lms.ErrInvalid)
	}
	var lim any
	if limit > 0 {
		lim = limit
	}
	f := s.clock.frame()
	return clientRows(ctx, s, "webhook deliveries", clientID, func(row pgx.CollectableRow) (lms.WebhookDelivery, error) {
		ev, err := scanHook(row, clientID, false, f)
		return ev.WebhookDelivery, err
	}, `SELECT `+hookColumns+` FROM webhook_events WHERE client_id = $1 ORDER BY n DESC LIMIT $2`, clientID, lim)
}
