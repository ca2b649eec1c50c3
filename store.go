package lms

import (
	"context"
	"time"
)

// Store is everything the server keeps. It is split into role interfaces so
// that each component asks only for what it uses; every implementation must
// pass the conformance suite in package storetest.
//
// Common contract of every method: a cancelled context returns ctx.Err()
// (wrapped) and changes nothing; unknown clients give ErrNotFound, malformed
// arguments ErrInvalid, both wrapped so errors.Is works; returned values never
// alias the store's memory; all methods are safe for concurrent use.
type Store interface {
	ClientStore
	SubscriptionStore
	ScheduleStore
	NotificationStore
	SourceStore
	WebhookStore
	// Close releases the store. Later calls fail with ErrClosed.
	Close() error
}

// ClientStore keeps the clients (API, notifier, syncer).
type ClientStore interface {
	// CreateClient stores a new client; ErrExists if the id is taken.
	// c.Counts is ignored (a new client has no links).
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns one client.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns all clients ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient atomically reads the client, calls fn on a copy and stores
	// the result unless fn returns an error, which UpdateClient returns. The
	// id and Counts cannot be changed by fn. fn must not block, and may be
	// called more than once (a store may retry its transaction, each time
	// on a fresh copy): it must have no effect but on its argument.
	UpdateClient(ctx context.Context, id string, fn func(*Client) error) (Client, error)
	// DeleteClient removes the client, its subscriptions, its sources and
	// its pending notifications. Links stay known to the server.
	DeleteClient(ctx context.Context, id string) error
}

// SourceStore keeps the sources of each client (JSON API, notifier): which
// of its pages use which URLs.
//
// # When a client is subscribed to a URL
//
// A client registers a URL in two ways: plainly (Subscribe, the XML-RPC
// registerURLs, PUT /api/v1/links, and the daily sync's
// ReplaceSubscriptions), and by listing it in a source (PutSource). The
// client is subscribed to the URL while at least one of them holds:
//
//   - Subscribe makes the URLs plain registrations;
//   - Unsubscribe ends the plain registrations of the URLs; a URL that a
//     source still lists stays subscribed (and keeps its pending
//     notification), and only subscriptions that end are counted;
//   - ReplaceSubscriptions makes urls the complete set of plain
//     registrations: the sync pulls the client's list of plainly registered
//     URLs, and the URLs of sources, which the client keeps through the JSON
//     API, are not part of it, so they stay subscribed whatever that list
//     says;
//   - PutSource and DeleteSource change which URLs sources use: a URL no
//     source lists any more stays subscribed only if it is a plain
//     registration;
//   - DeleteClient removes the client's sources with everything else.
//
// Data written before sources existed holds only plain registrations. The
// added and removed counts of every method are subscriptions that began or
// ended.
type SourceStore interface {
	SourceLookup
	// PutSource creates or replaces the client's source src.ID: its title,
	// edit URL, owner and its complete list of links, in one atomic step,
	// subscribing the client to new URLs and ending the subscriptions of
	// URLs that nothing uses any more (see above). It returns how many
	// subscriptions were added and removed. An invalid source id (as a
	// client id), title (over 1,000 bytes or with control characters),
	// edit URL (not empty and not a valid URL), owner (over 320 bytes or
	// with control characters), link (as Subscribe) or more than
	// MaxSourceLinks distinct links give ErrInvalid and change nothing.
	PutSource(ctx context.Context, clientID string, src Source, now time.Time) (added, removed int, err error)
	// GetSource returns one source with its links sorted; ErrNotFound if
	// the client or the source does not exist.
	GetSource(ctx context.Context, clientID, sourceID string) (Source, error)
	// DeleteSource removes the source and ends the subscriptions of the
	// URLs that nothing uses any more, returning how many ended;
	// ErrNotFound if the client or the source does not exist.
	DeleteSource(ctx context.Context, clientID, sourceID string) (removed int, err error)
	// ListSources returns one page of the client's sources ordered by id
	// (byte order), those after p.After, at most p.Limit (all if 0), only
	// those with a link in p.State if it is set, each with its links
	// counted by state.
	ListSources(ctx context.Context, clientID string, p SourcePage) ([]SourceSummary, error)
}

// SubscriptionStore ties clients to links (API, syncer).
type SubscriptionStore interface {
	// Subscribe links the URL strings to the client, creating each link
	// that does not exist yet (state unknown, due at now). Duplicates and
	// existing subscriptions are no-ops. It returns how many subscriptions
	// were added. Every URL is validated first; one invalid URL (empty, over
	// MaxURLLength, containing whitespace or control bytes) fails the whole
	// call with ErrInvalid and changes nothing.
	Subscribe(ctx context.Context, clientID string, urls []string, now time.Time) (added int, err error)
	// Unsubscribe removes the client's subscriptions to the URLs (unknown
	// ones are ignored) and their pending notifications, except those a
	// source of the client uses (see SourceStore). It returns how many
	// were removed. The links stay known.
	Unsubscribe(ctx context.Context, clientID string, urls []string) (removed int, err error)
	// ReplaceSubscriptions makes urls the client's complete set of plain
	// registrations in one atomic step (the daily sync); URLs its sources
	// use stay subscribed (see SourceStore).
	ReplaceSubscriptions(ctx context.Context, clientID string, urls []string, now time.Time) (added, removed int, err error)
	// ClientLinks returns one page of the client's links ordered by URL (byte
	// order), those after p.After, at most p.Limit (all if 0), only those in
	// p.State if it is set.
	ClientLinks(ctx context.Context, clientID string, p Page) ([]Link, error)
	// LookupLinks returns the links that exist among urls, keyed by URL.
	LookupLinks(ctx context.Context, urls []string) (map[string]Link, error)
}

// SubscribeCheckedStore is a SubscriptionStore that can also answer a
// registration in the same call (RegisterURLs uses it when the store has
// it): SubscribeChecked is Subscribe followed by LookupLinks of urls, but
// returns only the links that have been checked (LastChecked set), so that
// a store need not read back the links it has just created.
type SubscribeCheckedStore interface {
	SubscribeChecked(ctx context.Context, clientID string, urls []string, now time.Time) (added int, checked map[string]Link, err error)
}

// Page selects a page of a listing.
type Page struct {
	After string // exclusive lower bound; "" starts at the beginning
	Limit int    // at most this many; 0 means no limit
	State State  // only links in this state; "" means all
}

// ClaimOptions shape one ClaimDue call.
type ClaimOptions struct {
	// Limit is the most links returned.
	Limit int
	// PerHost is the most links taken from one host in this call.
	PerHost int
	// HostGap is the politeness interval of a host: after k links of a host
	// are claimed, the host is not offered again for (k-1)*HostGap, the time
	// the checker needs to work through them. Hosts with key "" are not
	// paced.
	HostGap time.Duration
	// Lease is how long claimed links stay away from other claimers; if no
	// result is recorded in time, they are due again. The hosts of the
	// claimed links are held by Holder for as long.
	Lease time.Duration
	// Holder names the claiming process (unique among the processes sharing
	// the store). A host is held by one holder at a time: ClaimDue hands out
	// links only of hosts that no other holder holds (or whose hold has
	// ended), and holds every host it hands out links of until now+Lease, so
	// that two processes never send requests to one host at once. "" is a
	// holder like any other.
	Holder string
}

// HostRelease is one host a stopping process gives back
// (ScheduleStore.ReleaseHosts).
type HostRelease struct {
	Host      string
	NotBefore time.Time // the host's next allowed request; zero if at once
}

// ScheduleStore is what the scheduler and the checker pool need.
type ScheduleStore interface {
	// ClaimDue hands out links whose NextDue is at or before now, fairly
	// across hosts: hosts are taken in order of when they became ready (due
	// and not deferred), at most PerHost links each, so one host with many
	// due links cannot hide the others. Claimed links have NextDue moved to
	// now+Lease. Its cost is O(log n) per returned link, never a scan of all
	// links. Links no client subscribes to are never handed out. Claimed
	// links carry URL, Host, State, Failures and NextDue (the lease), what
	// the checker needs; a store may leave the other fields zero so that a
	// claim need not read every link's full record.
	ClaimDue(ctx context.Context, now time.Time, opt ClaimOptions) ([]Link, error)
	// RecordResults stores check results in one atomic step: each link's
	// result fields and next due time, and, for every client subscribed to a
	// link whose State changed, a pending notification and the client's
	// state counts. Records of unknown URLs are skipped.
	RecordResults(ctx context.Context, recs []Outcome) error
	// DeferHost keeps all links of the host from being claimed before until
	// (a Retry-After, a back-off). An earlier until than the current one is
	// ignored.
	DeferHost(ctx context.Context, host string, until time.Time) error
	// HoldHost holds host for holder until now+lease (or longer, if holder
	// holds it longer already: a hold is never shortened), so that holder
	// may send it requests that no claim gave it (a redirect to another
	// host), unless another holder holds it: then ok is false and nothing
	// changes.
	// notBefore is when the host may be asked next as far as the store knows
	// (a DeferHost back-off; a store may also include the spacing of its
	// last claim); zero if at once.
	HoldHost(ctx context.Context, holder, host string, now time.Time, lease time.Duration) (notBefore time.Time, ok bool, err error)
	// ReleaseHosts ends holder's holds of hosts at once: the hand-over of
	// a process that stops, so that others need not wait for the leases.
	// Each host is not offered, nor reported free of back-off by HoldHost,
	// before its NotBefore (when the stopping process would have sent its
	// next request; zero if at once, a DeferHost back-off still counts);
	// a store that processes share lets it replace the spacing the
	// holder's claims gave the host. Hosts holder
	// does not hold (any more) are left alone. Release holder's queued links
	// first (RecordResults with Hold), so they are due when their hosts are
	// offered.
	ReleaseHosts(ctx context.Context, holder string, hosts []HostRelease) error
	// LinkCounts returns the number of subscribed links by state.
	LinkCounts(ctx context.Context) (StateCounts, error)
	// DueCount returns how many subscribed links are due at now, counting at
	// most max (the cost is O(min(due, max))). Links of a host that may not
	// be claimed at now (deferred, or spaced after a claim) are not due yet.
	DueCount(ctx context.Context, now time.Time, max int) (int, error)
	// PruneHosts forgets at most limit hosts that no link uses (hosts that
	// only redirect hops, probes or back-offs named) once nothing about them
	// is in force at now: their back-off, their spacing and any hold have
	// ended. It returns how many it removed, so that the hosts a store
	// keeps follow its links, not the history of redirects. A host that is
	// forgotten is as new when it is named again.
	PruneHosts(ctx context.Context, now time.Time, limit int) (int, error)
}

// Waker is implemented by stores that several processes share: it tells
// this process at once what others did, so that it need not wait for its
// next poll. The Engine uses it when its Store implements it.
type Waker interface {
	// Wakeups returns a channel that receives a Wakeup whenever another
	// process subscribed links, made notifications pending or put a mail
	// into the outbox, until ctx ends (then the channel is closed). A
	// process need not be woken by its own writes (it wakes its components
	// itself). Wake-ups may be delayed a little (coalesced, e.g. 20 ms),
	// and lost while the store is unreachable: polling stays the fallback.
	Wakeups(ctx context.Context) <-chan Wakeup
}

// Wakeup says what happened in another process.
type Wakeup uint8

// The wake-ups.
const (
	WakeLinksAdded Wakeup = 1 << iota // links were subscribed: claim now
	WakePending                       // notifications became pending: notify now
	WakeMail                          // a mail was put into the outbox: send it now
)

// NotificationStore is what the notifier needs.
type NotificationStore interface {
	// PendingClients returns the ids of clients with pending notifications.
	PendingClients(ctx context.Context) ([]string, error)
	// PendingUpdates returns up to limit (all if 0) of the client's pending
	// changes, coalesced (only the latest change per link), ordered by URL.
	PendingUpdates(ctx context.Context, clientID string, limit int) ([]PendingUpdate, error)
	// PendingCount returns how many links have pending changes for the client.
	PendingCount(ctx context.Context, clientID string) (int, error)
	// AckUpdates removes delivered changes. A change whose Seq differs (it
	// happened during delivery) stays pending.
	AckUpdates(ctx context.Context, clientID string, delivered []PendingUpdate) error
}
