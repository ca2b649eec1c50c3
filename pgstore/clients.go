package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// book is the JSON of clients.book: the bookkeeping of the notifier and the
// syncer, the client leases and the outbox. The names are the schema's, not
// Go's.
type book struct {
	NotifyFailures   int         `json:"notify_failures,omitempty"`
	NextNotify       int64       `json:"next_notify,omitempty"`
	LastNotified     int64       `json:"last_notified,omitempty"`
	LastNotifyError  string      `json:"last_notify_error,omitempty"`
	NotifyDisabledAt int64       `json:"notify_disabled_at,omitempty"`
	NextSync         int64       `json:"next_sync,omitempty"`
	LastSync         int64       `json:"last_sync,omitempty"`
	SyncForced       bool        `json:"sync_forced,omitempty"`
	LastSyncError    string      `json:"last_sync_error,omitempty"`
	SyncTooLarge     bool        `json:"sync_too_large_mailed,omitempty"`
	NotifyLease      lease       `json:"notify_lease"`
	SyncLease        lease       `json:"sync_lease"`
	Outbox           []bookMail  `json:"outbox,omitempty"`
	Webhook          bookHook    `json:"webhook"`
	Tokens           []bookToken `json:"tokens,omitempty"`
}

// bookToken is an API token's record (lms.APIToken).
type bookToken struct {
	Name    string `json:"name"`
	Hash    string `json:"hash"`
	Created int64  `json:"created,omitempty"`
}

// bookHook is a client's webhook settings and bookkeeping (webhooks.go).
type bookHook struct {
	URL        string `json:"url,omitempty"`
	Secret     string `json:"secret,omitempty"`
	OldSecret  string `json:"old_secret,omitempty"`
	OldUntil   int64  `json:"old_until,omitempty"`
	Failures   int    `json:"failures,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	DisabledAt int64  `json:"disabled_at,omitempty"`
}

type lease struct {
	Holder string `json:"holder,omitempty"`
	Until  int64  `json:"until,omitempty"`
}

type bookMail struct {
	Kind           string `json:"kind"`
	Queued         int64  `json:"queued,omitempty"`
	SealedPassword string `json:"sealed_password,omitempty"`
	Attempts       int    `json:"attempts,omitempty"`
	NextAttempt    int64  `json:"next_attempt,omitempty"`
	LastError      string `json:"last_error,omitempty"`
	// A digest's recipient (when not the contact) and text.
	To      string `json:"to,omitempty"`
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// bookOf is the book of c, its times moved into the database's frame by f.
func bookOf(c lms.Client, f frame) ([]byte, error) {
	b := book{
		NotifyFailures: c.NotifyFailures, NextNotify: f.in(c.NextNotify), LastNotified: f.in(c.LastNotified),
		LastNotifyError: text(c.LastNotifyError), NotifyDisabledAt: f.in(c.NotifyDisabledAt),
		NextSync: f.in(c.NextSync), LastSync: f.in(c.LastSync), SyncForced: c.SyncForced, LastSyncError: text(c.LastSyncError),
		SyncTooLarge: c.SyncTooLargeMailed,
		NotifyLease:  lease{Holder: text(c.NotifyLease.Holder), Until: f.in(c.NotifyLease.Until)},
		SyncLease:    lease{Holder: text(c.SyncLease.Holder), Until: f.in(c.SyncLease.Until)},
		Webhook: bookHook{URL: text(c.WebhookURL), Secret: text(c.WebhookSecret), OldSecret: text(c.WebhookOldSecret), OldUntil: f.in(c.WebhookOldUntil),
			Failures: c.WebhookFailures, LastError: text(c.WebhookLastError), DisabledAt: f.in(c.WebhookDisabledAt)},
	}
	for _, m := range c.Outbox {
		b.Outbox = append(b.Outbox, bookMail{Kind: text(string(m.Kind)), Queued: f.in(m.Queued), SealedPassword: text(m.SealedPassword),
			Attempts: m.Attempts, NextAttempt: f.in(m.NextAttempt), LastError: text(m.LastError),
			To: text(m.To), Subject: text(m.Subject), Body: text(m.Body), HTML: text(m.HTML)})
	}
	for _, t := range c.Tokens {
		b.Tokens = append(b.Tokens, bookToken{Name: t.Name, Hash: t.Hash, Created: nanos(t.Created)})
	}
	return json.Marshal(b)
}

// apply sets c's bookkeeping from b, its times moved into the caller's
// frame by f.
func (b book) apply(c *lms.Client, f frame) {
	c.NotifyFailures, c.NextNotify, c.LastNotified = b.NotifyFailures, f.out(b.NextNotify), f.out(b.LastNotified)
	c.LastNotifyError, c.NotifyDisabledAt = b.LastNotifyError, f.out(b.NotifyDisabledAt)
	c.NextSync, c.LastSync, c.SyncForced, c.LastSyncError = f.out(b.NextSync), f.out(b.LastSync), b.SyncForced, b.LastSyncError
	c.SyncTooLargeMailed = b.SyncTooLarge
	c.NotifyLease = lms.Lease{Holder: b.NotifyLease.Holder, Until: f.out(b.NotifyLease.Until)}
	c.SyncLease = lms.Lease{Holder: b.SyncLease.Holder, Until: f.out(b.SyncLease.Until)}
	h := b.Webhook
	c.WebhookURL, c.WebhookSecret, c.WebhookOldSecret, c.WebhookOldUntil = h.URL, h.Secret, h.OldSecret, f.out(h.OldUntil)
	c.WebhookFailures, c.WebhookLastError, c.WebhookDisabledAt = h.Failures, h.LastError, f.out(h.DisabledAt)
	c.Outbox = nil
	for _, m := range b.Outbox {
		c.Outbox = append(c.Outbox, lms.OutboxMail{Kind: lms.MailKind(m.Kind), Queued: f.out(m.Queued), SealedPassword: m.SealedPassword,
			Attempts: m.Attempts, NextAttempt: f.out(m.NextAttempt), LastError: m.LastError,
			To: m.To, Subject: m.Subject, Body: m.Body, HTML: m.HTML})
	}
	c.Tokens = nil
	for _, t := range b.Tokens {
		c.Tokens = append(c.Tokens, lms.APIToken{Name: t.Name, Hash: t.Hash, Created: fromNanos(t.Created)})
	}
}

const clientColumns = `c.id, c.created, c.notify, c.password_hash, c.sealed_password, c.contact_name, c.contact_email, c.callback_url, c.book,
	c.digest, c.digest_covered,
	k.ok, k.temporary, k.unavailable, k.unsupported, k.unknown`

func scanClient(row pgx.Row, f frame) (lms.Client, error) {
	var c lms.Client
	var created, covered int64
	var bk []byte
	var n counts
	if err := row.Scan(&c.ID, &created, &c.Notify, &c.PasswordHash, &c.SealedPassword, &c.ContactName, &c.ContactEmail, &c.CallbackURL, &bk,
		&c.Digest, &covered, &n[0], &n[1], &n[2], &n[3], &n[4]); err != nil {
		return lms.Client{}, err
	}
	c.Created = fromNanos(created)
	var b book
	if err := json.Unmarshal(bk, &b); err != nil {
		return lms.Client{}, fmt.Errorf("client %q: book: %w", c.ID, err)
	}
	b.apply(&c, f)
	c.DigestCovered = f.out(covered)
	c.Counts = n.export()
	return c, nil
}

func notFound(id string) error {
	return pass(fmt.Errorf("pgstore: client %q: %w", id, lms.ErrNotFound))
}

// CreateClient implements lms.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c lms.Client) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	c, err := storerules.NewClient(c)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	f := s.clock.frame()
	bk, err := bookOf(c, f)
	if err != nil {
		return fmt.Errorf("pgstore: create client: %w", err)
	}
	err = s.tx(ctx, "create client", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO clients (id, created, notify, password_hash, sealed_password, contact_name, contact_email, callback_url, book,
			digest, digest_covered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.ID, nanos(c.Created), c.Notify, text(c.PasswordHash), text(c.SealedPassword), text(c.ContactName), text(c.ContactEmail), text(c.CallbackURL), bk,
			text(string(c.Digest)), f.in(c.DigestCovered))
		b.Queue(`INSERT INTO client_counts (client_id, shard) SELECT $1, generate_series(0, 15) ON CONFLICT (client_id, shard) DO UPDATE
			SET ok = 0, temporary = 0, unavailable = 0, unsupported = 0, unknown = 0`, c.ID)
		return tx.SendBatch(ctx, b).Close()
	})
	if errors.Is(err, lms.ErrExists) {
		return fmt.Errorf("pgstore: client %q: %w", c.ID, lms.ErrExists)
	}
	if err == nil && len(c.Outbox) > 0 {
		s.wake(lms.WakeMail)
	}
	return err
}

// GetClient implements lms.ClientStore.
func (s *Store) GetClient(ctx context.Context, id string) (lms.Client, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var c lms.Client
	err := s.read(ctx, "get client", func(q querier) error {
		var err error
		c, err = scanClient(q.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients c JOIN client_totals k ON k.client_id = c.id WHERE c.id = $1`, id), s.clock.frame())
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		return err
	})
	return c, err
}

// ListClients implements lms.ClientStore.
func (s *Store) ListClients(ctx context.Context) ([]lms.Client, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return readRows(ctx, s, "list clients", func(r pgx.CollectableRow) (lms.Client, error) { return scanClient(r, s.clock.frame()) }, nil,
		`SELECT `+clientColumns+` FROM clients c JOIN client_totals k ON k.client_id = c.id ORDER BY c.id`)
}

// UpdateClient implements lms.ClientStore. The read-modify-write holds the
// client's row lock (SELECT … FOR UPDATE), so it is atomic across
// processes; fn may run again if the transaction has to be retried.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*lms.Client) error) (lms.Client, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var out lms.Client
	mail := false
	f := s.clock.frame()
	err := s.tx(ctx, "update client", func(tx pgx.Tx) error {
		old, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients c JOIN client_totals k ON k.client_id = c.id
			WHERE c.id = $1 FOR UPDATE OF c`, id), f)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		cp, err := storerules.UpdateClient(old, fn)
		if err != nil {
			return pass(err)
		}
		bk, err := bookOf(cp, f)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE clients SET created = $2, notify = $3, password_hash = $4, sealed_password = $5, contact_name = $6,
			contact_email = $7, callback_url = $8, book = $9, digest = $10, digest_covered = $11 WHERE id = $1`,
			id, nanos(cp.Created), cp.Notify, text(cp.PasswordHash), text(cp.SealedPassword), text(cp.ContactName), text(cp.ContactEmail), text(cp.CallbackURL), bk,
			text(string(cp.Digest)), f.in(cp.DigestCovered))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		out, mail = cp.Clone(), mailAdded(old.Outbox, cp.Outbox)
		return nil
	})
	if err != nil {
		return lms.Client{}, err
	}
	if mail {
		s.wake(lms.WakeMail)
	}
	return out, nil
}

// mailAdded reports whether after holds an entry that before does not.
func mailAdded(before, after []lms.OutboxMail) bool {
	had := make(map[lms.OutboxMail]int, len(before))
	for _, m := range before {
		had[m]++
	}
	for _, m := range after {
		if had[m] == 0 {
			return true
		}
		had[m]--
	}
	return false
}

// DeleteClient implements lms.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	n, err := s.clientLinkCount(ctx, id)
	if err != nil {
		return err
	}
	ctx, cancel := s.callN(ctx, int(n))
	defer cancel()
	return s.tx(ctx, "delete client", func(tx pgx.Tx) error {
		if err := lockClient(ctx, tx, id, "UPDATE"); err != nil {
			return err
		}
		if err := deleteSourceRows(ctx, tx, id); err != nil {
			return err
		}
		removed, err := deleteSubscriptions(ctx, tx, id, "true")
		if err != nil {
			return err
		}
		if _, err := s.changeSubs(ctx, tx, subChange{client: id, removed: removed, deleting: true}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		return err
	})
}

// clientLinkCount returns how many links client id has (0 for an unknown
// client), for the deadline of DeleteClient.
func (s *Store) clientLinkCount(ctx context.Context, id string) (int64, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var n int64
	err := s.read(ctx, "delete client", func(q querier) error {
		err := q.QueryRow(ctx, `SELECT ok + temporary + unavailable + unsupported + unknown FROM client_totals WHERE client_id = $1`, id).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the deletion says ErrNotFound
		}
		return err
	})
	return n, err
}

// lockClient takes the client's row lock of the given strength (KEY SHARE
// keeps it from being deleted, UPDATE from any change), or fails with
// ErrNotFound.
func lockClient(ctx context.Context, tx pgx.Tx, id, strength string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM clients WHERE id = $1 FOR `+strength, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(id)
	}
	return err
}

// readRows reads the rows of sql (args are its parameters), scanning each
// with scan; no rows is an empty slice. If there are none, none (when not
// nil) runs in the same read, to fail if that is an error.
func readRows[T any](ctx context.Context, s *Store, op string, scan pgx.RowToFunc[T], none func(querier) error, sql string, args ...any) ([]T, error) {
	var out []T
	err := s.read(ctx, op, func(q querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, scan); err != nil {
			return err
		}
		if len(out) == 0 && none != nil {
			return none(q)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// clientRows is readRows of one client's rows (a page of them): no rows of
// an unknown client is ErrNotFound.
func clientRows[T any](ctx context.Context, s *Store, op, clientID string, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	return readRows(ctx, s, op, scan, func(q querier) error { return clientExists(ctx, q, clientID) }, sql, args...)
}

// clientExists fails with ErrNotFound for an unknown client.
func clientExists(ctx context.Context, q querier, id string) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clients WHERE id = $1)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return notFound(id)
	}
	return nil
}
