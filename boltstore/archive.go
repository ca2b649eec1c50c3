package boltstore

// The suggestions' role (lms.ArchiveStore): each link's last archive
// look-up (bucket archive: url → archivedAt(8) looked(8) snapshot URL).

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/linkmonitor/lms"
)

var _ lms.ArchiveStore = (*Store)(nil)

func encodeCopy(c lms.ArchivedCopy) []byte {
	b := make([]byte, 16, 16+len(c.Snapshot))
	binary.BigEndian.PutUint64(b, uint64(nanos(c.ArchivedAt)))
	binary.BigEndian.PutUint64(b[8:], uint64(nanos(c.Looked)))
	return append(b, c.Snapshot...)
}

func decodeCopy(url string, v []byte) (lms.ArchivedCopy, error) {
	if len(v) < 16 {
		return lms.ArchivedCopy{}, fmt.Errorf("archived copy of %q: %w", url, errCorrupt)
	}
	return lms.ArchivedCopy{
		URL: url, Snapshot: string(v[16:]),
		ArchivedAt: fromNanos(int64(binary.BigEndian.Uint64(v))),
		Looked:     fromNanos(int64(binary.BigEndian.Uint64(v[8:]))),
	}, nil
}

// ArchivedCopies implements lms.ArchiveStore.
func (s *Store) ArchivedCopies(ctx context.Context, urls []string) (map[string]lms.ArchivedCopy, error) {
	out := make(map[string]lms.ArchivedCopy)
	err := s.view(ctx, func(t *txn) error {
		b := t.b(bArchive)
		for _, u := range urls {
			v := b.Get([]byte(u))
			if v == nil {
				continue
			}
			c, err := decodeCopy(u, v)
			if err != nil {
				return err
			}
			out[u] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutArchivedCopy implements lms.ArchiveStore.
func (s *Store) PutArchivedCopy(ctx context.Context, c lms.ArchivedCopy) error {
	if c.URL == "" {
		return fmt.Errorf("boltstore: archived copy without a URL: %w", lms.ErrInvalid)
	}
	return s.update(ctx, func(t *txn) error {
		if t.b(bLinks).Get([]byte(c.URL)) == nil {
			return nil
		}
		return t.b(bArchive).Put([]byte(c.URL), encodeCopy(c))
	})
}
