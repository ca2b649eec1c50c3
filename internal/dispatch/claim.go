package dispatch

import (
	"context"
	"time"
)

// RunClaims is the claim loop that fills the queues until ctx ends: it
// calls Config.Claim when the dispatcher wants items (the queues run low,
// or a free slot finds no host ready), at every Config.Added, and every
// Config.Poll, and queues what it returns (Add). After a claim that
// drained the store it waits for the next poll (or new items) rather than
// asking the store again at once. Claiming is a store transaction (an
// fsync with bbolt): it runs here so that dispatching never waits for it.
func (d *Dispatcher[T]) RunClaims(ctx context.Context) error {
	c := d.cfg
	t := time.NewTicker(c.Poll)
	defer t.Stop()
	prune := time.NewTicker(c.PruneEvery)
	defer prune.Stop()
	var lastDrained time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			c.Prune(ctx)
			continue
		case <-d.want:
			if time.Since(lastDrained) < c.Poll {
				continue
			}
		case <-c.Added:
		case <-t.C:
		}
		for {
			queued, most, _ := d.load(time.Now())
			if queued >= most {
				break
			}
			limit := min(d.batch, most-queued)
			items, err := c.Claim(ctx, limit)
			d.Add(items)
			if err != nil || len(items) < limit {
				lastDrained = time.Now()
				break
			}
			if queued, most, starving := d.load(time.Now()); !starving && queued >= most/2 {
				break
			}
		}
	}
}

// ReleaseQueued hands this process's work back once the claim loop and
// the dispatcher have stopped: claimed items that were never started are
// given back (Worker.GiveBack), then the hosts it holds are released with
// their next allowed times (pace.Holds.ReleaseAll), so other processes
// take both at once.
func (d *Dispatcher[T]) ReleaseQueued() error {
	items, _ := d.releaseAll()
	d.cfg.Worker.GiveBack(context.Background(), items)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.holds.ReleaseAll(ctx)
}
