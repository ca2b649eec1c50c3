package lms

import "context"

// LinkLister fetches a client's complete list of links
// (xmlrpc_getAllLinks). The list may contain duplicates and garbage.
type LinkLister interface {
	ListLinks(ctx context.Context, from Endpoint) ([]string, error)
}

// LinkListerFunc adapts a function to the LinkLister interface.
type LinkListerFunc func(ctx context.Context, from Endpoint) ([]string, error)

// ListLinks calls f.
func (f LinkListerFunc) ListLinks(ctx context.Context, from Endpoint) ([]string, error) {
	return f(ctx, from)
}
