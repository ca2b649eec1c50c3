package memstore

// The suggestions' role (lms.ArchiveStore): each link's last archive
// look-up.

import (
	"context"
	"fmt"

	"github.com/linkmonitor/lms"
)

var _ lms.ArchiveStore = (*Store)(nil)

// ArchivedCopies implements lms.ArchiveStore.
func (s *Store) ArchivedCopies(ctx context.Context, urls []string) (map[string]lms.ArchivedCopy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]lms.ArchivedCopy)
	for _, u := range urls {
		if c, ok := s.archived[s.links[u]]; ok {
			out[u] = c
		}
	}
	return out, nil
}

// PutArchivedCopy implements lms.ArchiveStore.
func (s *Store) PutArchivedCopy(ctx context.Context, c lms.ArchivedCopy) error {
	if c.URL == "" {
		return fmt.Errorf("memstore: archived copy without a URL: %w", lms.ErrInvalid)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if l := s.links[c.URL]; l != nil {
		s.archived[l] = c
	}
	return nil
}
