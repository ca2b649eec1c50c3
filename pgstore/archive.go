package pgstore

// The suggestions' role (lms.ArchiveStore): each link's last archive
// look-up (table link_archive).

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
)

var _ lms.ArchiveStore = (*Store)(nil)

// ArchivedCopies implements lms.ArchiveStore.
func (s *Store) ArchivedCopies(ctx context.Context, urls []string) (map[string]lms.ArchivedCopy, error) {
	ctx, cancel := s.callN(ctx, len(urls))
	defer cancel()
	byText := make(map[string]string, len(urls)) // as stored → as asked
	keys := make([]string, 0, len(urls))
	for _, u := range urls {
		byText[text(u)] = u
		keys = append(keys, text(u))
	}
	rows, err := readRows(ctx, s, "archived copies", func(row pgx.CollectableRow) (lms.ArchivedCopy, error) {
		var c lms.ArchivedCopy
		var at, looked int64
		err := row.Scan(&c.URL, &c.Snapshot, &at, &looked)
		c.ArchivedAt, c.Looked = fromNanos(at), fromNanos(looked)
		return c, err
	}, nil, `SELECT url, snapshot, archived_at, looked FROM link_archive WHERE url = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]lms.ArchivedCopy, len(rows))
	for _, c := range rows {
		c.URL = byText[c.URL]
		out[c.URL] = c
	}
	return out, nil
}

// PutArchivedCopy implements lms.ArchiveStore.
func (s *Store) PutArchivedCopy(ctx context.Context, c lms.ArchivedCopy) error {
	if c.URL == "" {
		return fmt.Errorf("pgstore: archived copy without a URL: %w", lms.ErrInvalid)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	return s.tx(ctx, "put archived copy", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO link_archive (url, snapshot, archived_at, looked)
			SELECT url, $2, $3, $4 FROM links WHERE url = $1
			ON CONFLICT (url) DO UPDATE SET snapshot = EXCLUDED.snapshot, archived_at = EXCLUDED.archived_at, looked = EXCLUDED.looked`,
			text(c.URL), text(c.Snapshot), nanos(c.ArchivedAt), nanos(c.Looked))
		return err
	})
}
