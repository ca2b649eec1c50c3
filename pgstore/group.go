package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// maxGroup is the most records one group commit writes; the callers beyond
// it wait for the next one.
const maxGroup = 5_000

// recordGroup coalesces concurrent RecordResults calls into one
// transaction (a group commit): a commit costs a flush of the WAL, the
// same for one record as for a thousand, so the writers of a busy checker
// share it instead of queueing for one each.
//
// The first caller that finds no commit under way leads: it takes every
// waiting call (its own included), writes their records in one
// transaction, tells each caller the outcome, and hands the lead to the
// first caller that queued meanwhile. No goroutine is started; a caller
// returns once the transaction holding its records committed (or failed).
type recordGroup struct {
	mu    sync.Mutex
	queue []*recordCall
	busy  bool // a leader is writing
	// commits counts the group commits (tests).
	commits atomic.Int64
}

// recordCall is one waiting RecordResults call.
type recordCall struct {
	ctx  context.Context
	recs []lms.Outcome
	// done receives the outcome of the commit that held recs, or errLead:
	// this call leads the next commit.
	done chan error
}

// errLead tells a waiting call that it leads the next group commit.
var errLead = errors.New("pgstore: lead the next group commit")

// RecordResults implements lms.ScheduleStore. Concurrent calls are written
// together, in one transaction (see recordGroup); each returns once that
// transaction committed. The last record of a URL wins, across the calls of
// one transaction in the order they came.
func (s *Store) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	if err := storerules.CheckOutcomes(recs); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if err := s.begin(ctx, "record results"); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	c := &recordCall{ctx: ctx, recs: recs, done: make(chan error, 1)}
	g := &s.records
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		if err := <-c.done; err != errLead {
			return err
		}
	}
	return s.leadGroup(c)
}

// leadGroup writes one group commit, led by the call self, and returns
// self's outcome.
func (s *Store) leadGroup(self *recordCall) error {
	g := &s.records
	g.mu.Lock()
	var group []*recordCall
	n := 0
	for len(g.queue) > 0 && (n == 0 || n+len(g.queue[0].recs) <= maxGroup) {
		n += len(g.queue[0].recs)
		group = append(group, g.queue[0])
		g.queue = g.queue[1:]
	}
	g.mu.Unlock()
	// A call whose context ended while it waited is not written.
	var recs []lms.Outcome
	var live []*recordCall
	for _, c := range group {
		if err := c.ctx.Err(); err != nil {
			c.done <- fmt.Errorf("pgstore: record results: %w", context.Cause(c.ctx))
			continue
		}
		live = append(live, c)
		recs = append(recs, c.recs...)
	}
	var err error
	if len(recs) > 0 {
		// The commit is the group's, not the leader's: it is bounded by
		// the call timeout, not ended by the leader's cancellation.
		ctx, cancel := s.callN(context.WithoutCancel(self.ctx), len(recs))
		err = s.recordBatch(ctx, recs)
		cancel()
		g.commits.Add(1)
	}
	for _, c := range live {
		c.done <- err
	}
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.busy = false
	} else {
		g.queue[0].done <- errLead
	}
	g.mu.Unlock()
	return <-self.done
}

// pipedTx runs fn in a transaction that takes two round trips fewer than
// tx: BEGIN travels with the first batch fn sends through its pipe, and
// COMMIT with the batch fn returns (nil: nothing more to write). Retried
// as tx is; fn must not have effects outside the transaction.
//
// Under load, a round trip is two wake-ups of processes competing for the
// CPUs, and a result write keeps its checker's slot until it committed.
func (s *Store) pipedTx(ctx context.Context, op string, fn func(p *pipe) (*pgx.Batch, error)) error {
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.pipedTxOnce(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt < 3 && retryable(err) && ctx.Err() == nil && !s.closed.Load() {
			s.retries.Add(1)
			continue
		}
		return s.wrap(ctx, op, err)
	}
}

// probePlans makes the rest of a transaction use generic plans, each made
// once per connection instead of a plan per execution (planning a result
// write's dozen statements cost as much as running them), and
// keeps those plans to index probes and nested loops whatever the
// statistics say: the statements of a piped transaction are written as
// probes per key (a generic plan made while a table is small, or not yet
// analyzed, would otherwise scan it whole for as long as the plan lives).
// JIT compilation is off: a plan that must scan (a few rows) costs more
// than jit_above_cost once sequential scans are "off", and compiling it
// would cost milliseconds.
const probePlans = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true),
	set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`

// pipe is the connection of a pipedTx.
type pipe struct {
	c     *pgxpool.Conn
	begun bool
}

// send sends b, after BEGIN and probePlans if it is the transaction's
// first batch; the results are b's.
func (p *pipe) send(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if p.begun {
		return p.c.SendBatch(ctx, b), nil
	}
	p.begun = true
	all := &pgx.Batch{}
	all.Queue("BEGIN")
	all.Queue(probePlans)
	all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	br := p.c.SendBatch(ctx, all)
	for range 2 {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// readBatch reads the rows of br's next statement into scans, calling fn
// after each, and closes br.
func readBatch(br pgx.BatchResults, scans []any, fn func() error) error {
	rows, err := br.Query()
	if err == nil {
		_, err = pgx.ForEachRow(rows, scans, fn)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) pipedTxOnce(ctx context.Context, fn func(p *pipe) (*pgx.Batch, error)) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside a transaction (the rollback below failed)
	// is closed by Release rather than pooled.
	defer c.Release()
	p := &pipe{c: c}
	err = func() error {
		last, err := fn(p)
		if err != nil {
			return err
		}
		if !p.begun && (last == nil || last.Len() == 0) {
			return nil // nothing was read or written
		}
		if last == nil {
			last = &pgx.Batch{}
		}
		last.Queue("COMMIT")
		br, err := p.send(ctx, last)
		if err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil && c.Conn().PgConn().TxStatus() != 'I' && !c.Conn().IsClosed() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = c.Exec(rctx, "ROLLBACK")
		cancel()
	}
	return err
}
