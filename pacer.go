package lms

import "context"

// Pacer spaces requests to one host: a request may start only once the
// interval has passed since the previous request to the host was answered,
// so that the host never sees two requests closer than the interval. The
// checker pool hands its Pacer to checkers through the context; a checker
// that makes further requests within one check (redirect hops) calls Done
// for the answered request and Wait before the next one, so politeness
// holds for every request, not only the first.
type Pacer interface {
	// Wait blocks until a request to host is allowed and reserves it.
	Wait(ctx context.Context, host string) error
	// Done reports that the request to host has been answered.
	Done(host string)
}

type pacerKey struct{}

// ContextWithPacer returns a context carrying p.
func ContextWithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// PacerFromContext returns the Pacer carried by ctx, or one that never
// waits.
func PacerFromContext(ctx context.Context) Pacer {
	if p, ok := ctx.Value(pacerKey{}).(Pacer); ok {
		return p
	}
	return noPacer{}
}

type noPacer struct{}

func (noPacer) Wait(context.Context, string) error { return nil }
func (noPacer) Done(string)                        {}
