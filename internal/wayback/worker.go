package wayback

import (
	"context"
	"sync"
	"time"
)

// Job is one look-up: the link and the time it is wanted closest to.
type Job struct {
	URL string
	At  time.Time
}

// WorkerConfig configures a Worker. Lookup and Save are required.
type WorkerConfig struct {
	// Lookup asks the service (Client.Lookup).
	Lookup func(ctx context.Context, link string, at time.Time) (Snapshot, error)
	// Save keeps the answer of a successful look-up, found or not.
	Save func(ctx context.Context, j Job, s Snapshot) error
	// Pace waits until the service may be asked again; nil: at once.
	Pace func(ctx context.Context) error
	// Done is told of each look-up's end and its error (nil on success):
	// the caller paces, backs off and logs there. Nil: nothing.
	Done func(j Job, err error)
	// Queue is the most jobs waiting; more are dropped (asked again later).
	// Default 1,000.
	Queue int
	// Timeout bounds one look-up and its Save. Default 30 s.
	Timeout time.Duration
}

// Worker runs look-ups one at a time, in the order they were added; a URL
// is queued at most once.
type Worker struct {
	cfg    WorkerConfig
	mu     sync.Mutex
	queue  []Job
	queued map[string]bool
	wake   chan struct{}
}

// NewWorker returns an idle Worker; Run runs it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Worker{cfg: cfg, queued: make(map[string]bool), wake: make(chan struct{}, 1)}
}

// Add queues j unless its URL is queued already or the queue is full; it
// reports whether j is (now) queued.
func (w *Worker) Add(j Job) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.queued[j.URL] {
		return true
	}
	if len(w.queue) >= w.cfg.Queue {
		return false
	}
	w.queue = append(w.queue, j)
	w.queued[j.URL] = true
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// Len returns how many jobs wait or are being looked up.
func (w *Worker) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queued)
}

// Run does the queued look-ups until ctx is cancelled; it returns nil.
func (w *Worker) Run(ctx context.Context) error {
	for {
		j, ok := w.next()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-w.wake:
				continue
			}
		}
		if w.cfg.Pace != nil {
			if err := w.cfg.Pace(ctx); err != nil {
				return nil // cancelled
			}
		}
		err := w.do(ctx, j)
		if w.cfg.Done != nil {
			w.cfg.Done(j, err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (w *Worker) next() (Job, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return Job{}, false
	}
	j := w.queue[0]
	w.queue[0] = Job{}
	w.queue = w.queue[1:]
	return j, true
}

// do looks j up and saves the answer. The URL may be queued again once
// the answer is in, before it is saved: one asking in between may cause
// one look-up more, never none (a job added while its URL runs would be
// dropped as queued already).
func (w *Worker) do(ctx context.Context, j Job) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	s, err := w.cfg.Lookup(ctx, j.URL, j.At)
	w.mu.Lock()
	delete(w.queued, j.URL)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return w.cfg.Save(ctx, j, s)
}
