// Package lms is a Link Monitoring Server: it keeps a server-wide registry of
// URLs, checks each of them regularly and politely, and tells the client
// systems (CMS sites such as Plone with gocept.linkchecker) that registered a
// URL whenever its state changes.
//
// # The model
//
// A [Client] is one CMS site. It registers the URLs its pages link to; each
// distinct URL string becomes one [Link], shared by every client that
// registered it (a subscription ties a client to a link). A link has one of
// five [State]s — ok, temporary unavailable, unavailable, unsupported protocol
// and unknown — and a human-readable reason.
//
// # Vocabulary: the five things that carry a state
//
//   - [Link]: a URL as the store keeps it: its state and reason, and its
//     schedule (next due, consecutive failures).
//   - [Result]: what one check of a URL found, as a [Checker] reports it.
//   - [Outcome]: what the checker writes back for one link: the Result as
//     the [Policy] judged it (a first failure may be reported as temporary),
//     the failure count and when the link is due again; or a hold that only
//     reschedules it.
//   - [Update]: a state as it goes to a client: the (url, state, reason)
//     triple of updateManyStates.
//   - [PendingUpdate]: an Update waiting in the store to be delivered to one
//     client, with the sequence number that acknowledges it.
//
// # The components
//
// Like the original gocept.lms, the server is made of parts that talk only
// through the [Store], so each can run alone, in one process or several, and a
// crash loses nothing that was acknowledged. Each is a value in its own file,
// built from the store roles it uses, and [Engine.Run] runs them:
//
//   - the API (api.go, served over XML-RPC by package xmlrpcapi) registers
//     clients and URLs;
//   - the scheduler (scheduler.go) claims due links fairly across hosts
//     ([ScheduleStore.ClaimDue]); the dispatcher (internal/dispatch) queues
//     them per host and starts each check in one of N request slots, at most
//     one request per host per interval (internal/pace); the pool (pool.go) checks
//     them through a [Checker], decides when each link is due again
//     ([Policy], policy.go), with an "is it us?" guard against local
//     outages (internal/outage), and writes the outcome back;
//   - the notifier (internal/notify, wired in notify.go) pushes each
//     client's pending state changes through a [Notifier];
//   - the syncer (internal/notify) pulls each client's full list of links
//     daily through a [LinkLister], reconciles, and pushes every state back;
//   - the webhooks (webhook.go, internal/notify) take the same changes
//     as signed events (Standard Webhooks) into a per-client queue in the
//     store ([WebhookStore]) and deliver each queue in order;
//   - the mailer (internal/notify; [Mailer]: mail.go) delivers the outbox:
//     registration mails with the password and "notifications disabled"
//     mails, through a [Mailer].
//   - the digester (internal/notify; what it reads: digest.go) owes each
//     client's daily or weekly digest, and its sources' owners', in the
//     outbox.
//
// # The Engine
//
// [New] wires a Store and a [Config] into an [Engine]. Its methods are the API
// operations (RegisterClient, RegisterURLs, …); its [Engine.Run] method blocks
// and runs the enabled components until its context is cancelled, then returns
// nil once every goroutine has stopped.
package lms

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/linkmonitor/lms/internal/browser"
	"github.com/linkmonitor/lms/internal/notify"
	"github.com/linkmonitor/lms/internal/validate"
)

// Sentinel errors. Stores and the Engine wrap them with %w; test with
// errors.Is. Transports map them to wire errors in one place.
var (
	// ErrNotFound means the client or link does not exist.
	ErrNotFound = errors.New("lms: not found")
	// ErrExists means a client with that id exists already.
	ErrExists = errors.New("lms: already exists")
	// ErrInvalid means an argument is malformed or out of range.
	ErrInvalid = errors.New("lms: invalid argument")
	// ErrUnauthorized means wrong credentials or a wrong admin secret.
	ErrUnauthorized = errors.New("lms: unauthorized")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("lms: store closed")
	// ErrTooLarge means a peer's answer is over a limit lms sets, such as
	// a client's link list (LinkLister) over the callback client's caps.
	ErrTooLarge = errors.New("lms: over a limit")
)

// Limits on identifiers, enforced by the Engine and by every Store.
const (
	// MaxURLLength is the longest URL string accepted, in bytes.
	MaxURLLength = validate.MaxURLLength
	// MaxIDLength is the longest client id accepted, in bytes.
	MaxIDLength = validate.MaxIDLength
)

// State is the state of a link as it goes on the wire. Exactly the five
// constants below exist.
type State string

// The five states of the protocol.
const (
	StateOK          State = "ok"
	StateTemporary   State = "temporary unavailable"
	StateUnavailable State = "unavailable"
	StateUnsupported State = "unsupported protocol"
	StateUnknown     State = "unknown"
)

// States returns the five states in display order (a fresh array each
// call: there is no package-level state to modify).
func States() [5]State {
	return [5]State{StateOK, StateTemporary, StateUnavailable, StateUnsupported, StateUnknown}
}

// Valid reports whether s is one of the five protocol states.
func (s State) Valid() bool { return s.index() >= 0 }

// Failing reports whether s is temporary unavailable or unavailable.
func (s State) Failing() bool { return s == StateTemporary || s == StateUnavailable }

func (s State) index() int {
	for i, v := range States() {
		if v == s {
			return i
		}
	}
	return -1
}

// StateCounts counts links by state. The zero value is ready to use and it
// is a plain value: copies never alias.
type StateCounts struct {
	OK, Temporary, Unavailable, Unsupported, Unknown int
}

// Add adds n to the count of state s; unknown strings count as StateUnknown.
func (c *StateCounts) Add(s State, n int) {
	switch s {
	case StateOK:
		c.OK += n
	case StateTemporary:
		c.Temporary += n
	case StateUnavailable:
		c.Unavailable += n
	case StateUnsupported:
		c.Unsupported += n
	default:
		c.Unknown += n
	}
}

// Get returns the count of state s.
func (c StateCounts) Get(s State) int {
	switch s {
	case StateOK:
		return c.OK
	case StateTemporary:
		return c.Temporary
	case StateUnavailable:
		return c.Unavailable
	case StateUnsupported:
		return c.Unsupported
	default:
		return c.Unknown
	}
}

// Total returns the sum of all counts.
func (c StateCounts) Total() int {
	return c.OK + c.Temporary + c.Unavailable + c.Unsupported + c.Unknown
}

// Client is one client system (a CMS site) and the bookkeeping the notifier
// and the syncer keep about it.
type Client struct {
	ID           string // unique, 1..MaxIDLength bytes, no control characters
	PasswordHash string // see HashPassword; the password itself is never stored in clear
	// SealedPassword is the password encrypted with a key derived from the
	// admin secret: callbacks must send it, and a stolen store file alone
	// does not reveal it.
	SealedPassword string
	ContactName    string    // who receives the registration mail
	ContactEmail   string    // their address
	CallbackURL    string    // where updateManyStates and xmlrpc_getAllLinks are sent
	Notify         bool      // notifications (and syncs) on
	Created        time.Time // registration time

	// Webhook (API.md "Webhooks", webhook.go): where events are POSTed, ""
	// if nowhere. Both the callback and the webhook receive every change.
	WebhookURL string
	// WebhookSecret is the signing secret ("whsec_…"), sealed like
	// SealedPassword; "" until the first RotateWebhookSecret (deliveries
	// go unsigned until then). WebhookOldSecret is the one it replaced,
	// sealed, which signs as well until WebhookOldUntil.
	WebhookSecret    string
	WebhookOldSecret string
	WebhookOldUntil  time.Time
	// Webhook delivery bookkeeping, like the notifier's below.
	WebhookFailures   int       // consecutive failed attempts
	WebhookLastError  string    // why the last attempt failed; "" after a success
	WebhookDisabledAt time.Time // when repeated failures turned the webhook off; zero while on

	// Counts are the client's links by state. Stores maintain them; the
	// value passed to Store.UpdateClient is ignored.
	Counts StateCounts

	// Notifier bookkeeping.
	NotifyFailures   int       // consecutive failed pushes
	NextNotify       time.Time // no push before this instant (spacing and back-off)
	LastNotified     time.Time // last successful push
	LastNotifyError  string    // text of the last failure, "" after a success
	NotifyDisabledAt time.Time // when the notifier switched notifications off; zero if it did not

	// Syncer bookkeeping.
	NextSync      time.Time // the next daily sync is due at this instant
	LastSync      time.Time // last successful sync
	SyncForced    bool      // forceSynchronization was called; sync at the next tick
	LastSyncError string    // text of the last failed sync, "" after a success
	// SyncTooLargeMailed is set when the contact was mailed that the link
	// list is over a limit; a successful sync clears it, so that one run
	// of such failures costs one mail.
	SyncTooLargeMailed bool

	// NotifyLease and SyncLease say which process serves the client's
	// notifications and syncs (and its mails, with NotifyLease) until when,
	// so that processes sharing a store never serve one client twice.
	NotifyLease Lease
	SyncLease   Lease

	// Outbox holds the mails owed to the contact, in the order they were
	// owed. An entry is recorded in the same step as the change that owes
	// it (the client's creation, notifications switched off) and removed
	// once the mail was delivered.
	Outbox []OutboxMail

	// Tokens are the client's API tokens of the JSON API, by name, each
	// stored only as a hash (see api_tokens.go).
	Tokens []APIToken

	// Digest is how often the contact, and the owners of the client's
	// sources, get a digest mail (digest.go); DigestCovered is the end of
	// the last digest's window: later changes go into the next digest.
	Digest        DigestMode
	DigestCovered time.Time
}

// Clone returns a copy of c that shares no memory with it (stores use it so
// that the values they return never alias their own).
func (c Client) Clone() Client {
	c.Outbox = append([]OutboxMail(nil), c.Outbox...)
	c.Tokens = append([]APIToken(nil), c.Tokens...)
	return c
}

// Lease is a hold by one process until a time.
type Lease struct {
	Holder string    // the process, as named by Config.ProcessID
	Until  time.Time // the hold ends at this instant
}

// Held reports whether l is held at now by a holder other than holder.
func (l Lease) Held(now time.Time, holder string) bool {
	return l.Holder != "" && l.Holder != holder && now.Before(l.Until)
}

// MailKind names a mail of the outbox.
type MailKind string

// The mails lms sends a client's contact.
const (
	// MailRegistration carries the client's password (PROTOCOL.md §5).
	MailRegistration MailKind = notify.KindRegistration
	// MailDisabled says that notifications were switched off after
	// repeated failures.
	MailDisabled MailKind = notify.KindNotifyDisabled
	// MailSyncTooLarge says that the client's link list is over a limit
	// (ErrTooLarge), so the daily sync cannot reconcile it.
	MailSyncTooLarge MailKind = notify.KindSyncTooLarge
	// MailDigest is a digest of the links' changes (digest.go).
	MailDigest MailKind = notify.KindDigest
)

// OutboxMail is a mail owed to a client's contact. The text is made when
// it is sent, from the client as it is then.
type OutboxMail struct {
	Kind   MailKind
	Queued time.Time
	// SealedPassword is the password a registration mail carries, sealed
	// like Client.SealedPassword; it leaves the store with the entry.
	SealedPassword string
	Attempts       int       // failed deliveries so far
	NextAttempt    time.Time // no delivery before this instant
	LastError      string    // why the last delivery failed
	// A digest's text is made when it is owed, and kept here; To is its
	// recipient when it is not the contact (a source's owner).
	To, Subject, Body, HTML string
}

// Link is one distinct URL string, shared by every client that registered it.
type Link struct {
	URL  string // exactly as registered, byte for byte
	Host string // politeness key (see HostKey); "" for links checked without network

	State        State
	Reason       string        // non-empty once checked
	Code         int           // HTTP or FTP status code of the final response, 0 if none
	LastChecked  time.Time     // zero if never checked
	LastChanged  time.Time     // last change of State
	NextDue      time.Time     // when the scheduler hands it out next
	Failures     int           // consecutive failed checks; -n: n in a row from a site that blocks checks (see Policy.Next)
	FailingSince time.Time     // when the link turned failing (temporary or unavailable) from another state; zero when it is not failing
	FinalURL     string        // where the reader ends up after redirects; "" if there was none
	Permanent    bool          // the link redirects, and every hop is permanent (301/308)
	Kind         string        // what kind of "alive but wrong" the last check found (Result.Kind); "" if none
	ResponseTime time.Duration // of the last check
	Subscribers  int           // number of clients that registered it
}

// Result is the outcome of one check. A dead link is a Result, not an error.
//
// A checker reports the state the link has if the answer is confirmed:
// StateUnavailable for a broken link, StateTemporary for a failure that may
// pass. The Policy decides what is reported and when the link is checked
// again (a first failure is confirmed before a link is called unavailable).
type Result struct {
	State State
	// Reason says in plain words, for an editor, why the link is in State.
	Reason string
	// Code is the HTTP or FTP status of the final answer; 0 if there was none.
	Code int
	// FinalURL is where the reader ends up after any redirects (HTTP
	// redirects and page refreshes); empty when there was none. With
	// Permanent it is the address to suggest instead of the link.
	FinalURL string
	// Permanent reports that the link redirects and every hop is permanent
	// (301, 308).
	Permanent bool
	// Kind names, machine-readably, what kind of "alive but wrong" page
	// the check found: "soft_404", "parked", "home_redirect",
	// "default_page" or "suspended"; empty when none (see
	// internal/softfail). The JSON API carries it; clients of the XML-RPC
	// protocol see only State and Reason.
	Kind         string
	ResponseTime time.Duration
	// RetryAfter is the server's request to wait (429, 503) before the next
	// request to this host; zero if it gave none.
	RetryAfter time.Duration
	// NetworkError marks failures below the protocol (DNS, connect): the
	// "is it us?" guard watches them.
	NetworkError bool
	// Failure says how a failing result is confirmed before the link is
	// reported unavailable (see Policy.Next). The built-in checkers set it;
	// the zero value infers it from State.
	Failure FailureKind
	// Detail is the technical cause of a failure (a Go error's text) for
	// logs and debugging. It never goes to clients and is not stored.
	Detail string
}

// FailureKind classifies a failing Result by how it must be confirmed.
type FailureKind uint8

// The kinds of failure.
const (
	// FailureInferred derives the kind from the State: unavailable is
	// FailureDefinitive, temporary unavailable FailureTransient.
	FailureInferred FailureKind = iota
	// FailureDefinitive is an answer that says the link is broken (404,
	// 410, no such host, a certificate a browser refuses, a page found
	// gone though it answers 200): confirmed once before the link is
	// reported unavailable.
	FailureDefinitive
	// FailureTransient may be a passing glitch (5xx, a refused or dropped
	// connection, a timeout, a DNS server that did not answer): confirmed
	// several times, with back-off, before the link is reported
	// unavailable; one temporary by nature only once it has lasted a
	// check interval (see Policy).
	FailureTransient
	// FailureBlocked means the site turns away automated checks or limits
	// their rate (a bot wall, 429): the link may well work for a person,
	// so it is reported temporary unavailable, never unavailable.
	FailureBlocked
	// FailureDoubt means the page answers but may be gone: weak evidence
	// of an "alive but wrong" page (Result.Kind says which), such as a
	// deep link sent to the home page by a temporary redirect. It is
	// reported temporary unavailable, never unavailable, and looked at
	// again like FailureBlocked: a probe in a later interval or a clearer
	// page settles it.
	FailureDoubt
)

// String names the kind.
func (k FailureKind) String() string {
	switch k {
	case FailureDefinitive:
		return "definitive"
	case FailureTransient:
		return "transient"
	case FailureBlocked:
		return "blocked"
	case FailureDoubt:
		return "doubt"
	}
	return "inferred"
}

// failure returns r's FailureKind, inferred from the State when unset;
// FailureInferred for results that are not failing.
func (r Result) failure() FailureKind {
	if !r.State.Failing() {
		return FailureInferred
	}
	if r.Failure != FailureInferred {
		return r.Failure
	}
	if r.State == StateUnavailable {
		return FailureDefinitive
	}
	return FailureTransient
}

// Outcome is what the checker pool writes back for one checked link: the
// result after the scheduling policy was applied, and the next due time.
type Outcome struct {
	URL      string
	Result   Result
	Failures int       // consecutive failures after this check (Link.Failures)
	NextDue  time.Time // when the link is due again
	Checked  time.Time // when the check ran
	// Hold keeps State, Reason and the rest as they are and only reschedules
	// the link (used by the outage guard and when a check is abandoned).
	Hold bool
}

// Update is a state change as it goes to a client: the triple of
// updateManyStates. Reason is never empty.
type Update struct {
	URL    string
	State  State
	Reason string
}

// PendingUpdate is a state change waiting to be delivered to one client. Seq
// identifies the change, so that acknowledging it cannot remove a newer
// change of the same link.
type PendingUpdate struct {
	Update
	Seq uint64
}

// Update returns the Update a client receives for l; unchecked links carry
// reason "unknown".
func (l Link) Update() Update {
	st := l.State
	if !st.Valid() {
		st = StateUnknown
	}
	r := l.Reason
	if r == "" {
		r = "unknown"
	}
	return Update{URL: l.URL, State: st, Reason: r}
}

// HostKey returns the politeness key of a URL: its lower-cased IDNA (ASCII)
// host name, without port and trailing dot, an IPv4 address as its dotted
// quad. Every URL with an authority (scheme://host…) has one, whatever its
// scheme, so that the checks of a scheme an embedder adds through the Mux
// are paced per host like http's. URLs without a host (mailto:, news:,
// file:///…, unparsable URLs) are checked without being paced: key "".
// It is the one place the key is computed; the stores call it when a link
// is first registered.
func HostKey(rawURL string) string {
	i := strings.IndexByte(rawURL, ':')
	if i <= 0 || !strings.HasPrefix(rawURL[i+1:], "//") {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if h == "" {
		return ""
	}
	if a, err := idna.Lookup.ToASCII(h); err == nil {
		h = a
	}
	// One host, one key, however it is spelt: IPv4 in the forms browsers
	// read (127.1, 0x7f.0.0.1, 2130706433) as the dotted quad, a name with
	// or without its trailing dot.
	if b, ok := browser.Host(h); ok {
		h = b
	}
	return strings.TrimSuffix(h, ".")
}
