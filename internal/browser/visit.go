package browser

import (
	"context"
	"io"
	"math"
	"sync/atomic"
)

// Visit is what one check may still spend besides its response heads
// (which the transports bound one by one): the bytes its bodies may still
// take on the wire, before any decoding, and the AIA fetches it may still
// make; and how a request it sends on its own account (an AIA fetch) is
// paced as a request to that request's host. A visit travels in the
// check's context (WithVisit), where the TLS handshake finds it. It is
// safe for concurrent use.
type Visit struct {
	wire atomic.Int64
	aia  atomic.Int64
	pace PaceFunc
}

// PaceFunc waits until a request to the host of rawURL may start and
// reserves it; done reports that the request was answered. It fails only
// when ctx ends.
type PaceFunc func(ctx context.Context, rawURL string) (done func(), err error)

// MaxAIAPerVisit is the most AIA fetches one visit makes, whatever the
// certificates it meets (MaxAIAPerCert bounds each certificate).
const MaxAIAPerVisit = 10

// NewVisit returns a visit whose bodies may take wire bytes on the wire
// and whose AIA fetches wait on pace (nil: they do not wait).
func NewVisit(wire int64, pace PaceFunc) *Visit {
	v := &Visit{pace: pace}
	v.wire.Store(wire)
	v.aia.Store(MaxAIAPerVisit)
	return v
}

// WireLeft returns the bytes the visit's bodies may still take on the
// wire; a nil visit has no bound of its own.
func (v *Visit) WireLeft() int64 {
	if v == nil {
		return math.MaxInt64
	}
	return max(0, v.wire.Load())
}

// wireReader returns r reading at most limit bytes and at most what the
// visit has left, each counted against the visit; a Read beyond fails with
// ErrTooMuchData. A nil visit counts limit alone.
func (v *Visit) wireReader(r io.Reader, limit int64) *wireReader {
	if v == nil {
		v = NewVisit(limit, nil)
	}
	return &wireReader{r: r, v: v, left: limit}
}

// WireBudget is the wire cap that goes with a decoded cap: a quarter more,
// so that a body that does not compress, sent compressed all the same (a
// little larger than itself), reaches its decoded cap first. The decoded
// cap is thus never more than the wire cap.
func WireBudget(decoded int64) int64 { return decoded + decoded/4 }

// takeAIA reserves one AIA fetch, reporting false when none is left. A nil
// visit has no bound of its own.
func (v *Visit) takeAIA() bool { return v == nil || v.aia.Add(-1) >= 0 }

// waitFor paces a request to rawURL (see PaceFunc); a nil visit or pace
// does not wait.
func (v *Visit) waitFor(ctx context.Context, rawURL string) (func(), error) {
	if v == nil || v.pace == nil {
		return func() {}, ctx.Err()
	}
	return v.pace(ctx, rawURL)
}

type visitKey struct{}

// WithVisit returns ctx carrying v.
func WithVisit(ctx context.Context, v *Visit) context.Context {
	return context.WithValue(ctx, visitKey{}, v)
}

// VisitFrom returns the visit ctx carries, or nil.
func VisitFrom(ctx context.Context) *Visit {
	v, _ := ctx.Value(visitKey{}).(*Visit)
	return v
}

// wireReader counts what it reads against its own limit and its visit's.
type wireReader struct {
	r    io.Reader
	v    *Visit
	left int64
	read int64 // bytes read so far
	err  error
}

// Read implements io.Reader. Once a cap is reached every Read fails with
// ErrTooMuchData: a decoder reading through it (a stream of empty deflate
// blocks, which never yields a byte) then stops at once.
func (w *wireReader) Read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := min(int64(len(p)), w.left, w.v.WireLeft())
	if n <= 0 {
		w.err = ErrTooMuchData
		return 0, w.err
	}
	m, err := w.r.Read(p[:n])
	w.left -= int64(m)
	w.read += int64(m)
	w.v.wire.Add(-int64(m))
	return m, err
}
