package storerules

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/validate"
)

// Limits on the fields of a source.
const (
	maxTitle = 1000
	maxOwner = 320
)

// NewSource validates a source for PutSource (lms.ErrInvalid naming what is
// wrong) and returns a copy with its links sorted in byte order without
// duplicates, sharing no memory with src.
func NewSource(src lms.Source) (lms.Source, error) {
	if err := validate.ClientID(src.ID); err != nil {
		return lms.Source{}, fmt.Errorf("%w: source id: %w", lms.ErrInvalid, err)
	}
	if err := text(src.Title, maxTitle); err != nil {
		return lms.Source{}, fmt.Errorf("%w: source title: %w", lms.ErrInvalid, err)
	}
	if err := text(src.Owner, maxOwner); err != nil {
		return lms.Source{}, fmt.Errorf("%w: source owner: %w", lms.ErrInvalid, err)
	}
	if src.EditURL != "" {
		if err := validate.URL(src.EditURL); err != nil {
			return lms.Source{}, fmt.Errorf("%w: source edit URL: %w", lms.ErrInvalid, err)
		}
	}
	if err := CheckURLs(src.Links); err != nil {
		return lms.Source{}, err
	}
	src = src.Clone()
	slices.Sort(src.Links)
	src.Links = slices.Compact(src.Links)
	if len(src.Links) > lms.MaxSourceLinks {
		return lms.Source{}, fmt.Errorf("%w: a source lists %d links, more than %d", lms.ErrInvalid, len(src.Links), lms.MaxSourceLinks)
	}
	for i, u := range src.Links {
		src.Links[i] = strings.Clone(u)
	}
	return src, nil
}

func text(s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%d bytes exceed %d", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8")
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("contains control characters")
		}
	}
	return nil
}

// Diff returns the URLs of sorted list b that are not in sorted list a.
func Diff(a, b []string) []string {
	var out []string
	i := 0
	for _, u := range b {
		for i < len(a) && a[i] < u {
			i++
		}
		if i < len(a) && a[i] == u {
			continue
		}
		out = append(out, u)
	}
	return out
}

// InSourcePage reports whether a source with id and counts belongs to page
// p (after p.After, with a link in p.State if set).
func InSourcePage(p lms.SourcePage, id string, counts lms.StateCounts) bool {
	return id > p.After && (p.State == "" || counts.Get(p.State) > 0)
}
