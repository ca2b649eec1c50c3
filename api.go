package lms

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/validate"
)

// Registration is what RegisterClient needs to know about a new client.
type Registration struct {
	ID           string
	Password     string // empty: a 30-character password is generated
	ContactName  string
	ContactEmail string
	CallbackURL  string
	// CallbackOptional lets CallbackURL be empty (a JSON API client may
	// have a webhook instead); registerClient requires one.
	CallbackOptional bool
	// Digest is how often the contact gets a digest mail; the zero value
	// is off (registerClient). The JSON API and the admin pages use daily.
	Digest DigestMode
}

// CheckAdminSecret returns ErrUnauthorized unless adminSecret is the configured
// admin secret (compared in constant time). An unset admin secret refuses
// everything.
func (e *Engine) CheckAdminSecret(adminSecret string) error {
	if e.cfg.AdminSecret == "" || !secret.Equal(adminSecret, e.cfg.AdminSecret) {
		return fmt.Errorf("lms: admin secret: %w", ErrUnauthorized)
	}
	return nil
}

// Admin is what the admin secret allows. Engine.Admin checks the secret
// once and returns it; its methods check nothing more, so that a front door
// that has checked the secret (through its throttles) does not check it a
// second time. The zero Admin refuses everything with ErrUnauthorized.
type Admin struct{ e *Engine }

// Admin returns the admin's methods if adminSecret is the configured admin
// secret, and CheckAdminSecret's error otherwise.
func (e *Engine) Admin(adminSecret string) (Admin, error) {
	if err := e.CheckAdminSecret(adminSecret); err != nil {
		return Admin{}, err
	}
	return Admin{e: e}, nil
}

// engine returns the Engine of an Admin that Engine.Admin returned.
func (a Admin) engine() (*Engine, error) {
	if a.e == nil {
		return nil, fmt.Errorf("lms: admin secret not checked: %w", ErrUnauthorized)
	}
	return a.e, nil
}

// InputError is how an Engine method refuses one field of its input:
// errors.Is(err, ErrInvalid) holds for it, and Problem says what is wrong
// in words a front door may pass on to its caller (quoting at most 40 bytes
// of the input). The Engine applies each rule of internal/validate once;
// a front door learns from InputError which field failed instead of
// checking it again.
type InputError struct {
	Field   string // the field of the input, e.g. "ID" or "CallbackURL" of Registration
	Problem string
}

// Error returns the problem.
func (e *InputError) Error() string { return e.Problem }

// Is reports whether target is ErrInvalid.
func (e *InputError) Is(target error) bool { return target == ErrInvalid }

// RegisterClient creates a client after checking the admin secret, stores
// only a hash of its password, and mails the password to the contact (the
// only channel that delivers it). It returns the password.
func (e *Engine) RegisterClient(ctx context.Context, adminSecret string, r Registration) (string, error) {
	a, err := e.Admin(adminSecret)
	if err != nil {
		return "", err
	}
	return a.RegisterClient(ctx, r)
}

// RegisterClient creates a client, stores only a hash of its password, and
// mails the password to the contact (the only channel that delivers it). It
// returns the password. An invalid id or callback URL is refused with an
// *InputError.
func (a Admin) RegisterClient(ctx context.Context, r Registration) (string, error) {
	e, err := a.engine()
	if err != nil {
		return "", err
	}
	if err := validate.ClientID(r.ID); err != nil {
		return "", fmt.Errorf("lms: register client: %w: %w", ErrInvalid, &InputError{Field: "ID", Problem: err.Error()})
	}
	if r.CallbackURL != "" || !r.CallbackOptional {
		if err := validate.CallbackURL(r.CallbackURL); err != nil {
			return "", fmt.Errorf("lms: register client %q: %w: %w", r.ID, ErrInvalid, &InputError{Field: "CallbackURL", Problem: err.Error()})
		}
	}
	addr, err := mail.ParseAddress(r.ContactEmail)
	if err != nil || len(r.ContactEmail) > 254 {
		return "", fmt.Errorf("lms: register client %q: contact e-mail %q: %w", r.ID, r.ContactEmail, ErrInvalid)
	}
	if len(r.ContactName) > 256 || strings.ContainsAny(r.ContactName, "\r\n") {
		return "", fmt.Errorf("lms: register client %q: contact name: %w", r.ID, ErrInvalid)
	}
	if !r.Digest.Valid() {
		return "", fmt.Errorf("lms: register client %q: digest %q: %w", r.ID, r.Digest, ErrInvalid)
	}
	pw, human := r.Password, r.Password != ""
	if pw == "" {
		pw = secret.GeneratePassword()
	} else if len(pw) < 8 || len(pw) > 72 {
		return "", fmt.Errorf("lms: register client %q: password must be 8 to 72 bytes: %w", r.ID, ErrInvalid)
	}
	hash, err := secret.Hash(pw, human)
	if err != nil {
		return "", err
	}
	now := e.now()
	sealed := e.sealer.Seal(r.ID, pw)
	c := Client{
		ID: r.ID, PasswordHash: hash, SealedPassword: sealed,
		ContactName: r.ContactName, ContactEmail: addr.Address, CallbackURL: r.CallbackURL,
		Notify: true, Created: now, Digest: r.Digest, DigestCovered: now,
		// Spread the daily syncs of clients over the interval.
		NextSync: now.Add(time.Duration(rand.Int64N(int64(e.cfg.SyncInterval)))),
		// The registration mail is owed in the same step: once this
		// returns, the password reaches the contact even after a crash.
		Outbox: []OutboxMail{{Kind: MailRegistration, Queued: now, SealedPassword: sealed}},
	}
	if err := e.store.CreateClient(ctx, c); err != nil {
		return "", fmt.Errorf("lms: register client %q: %w", r.ID, err)
	}
	e.log.Info("client registered", "client", r.ID, "callback", logsafe.URL(r.CallbackURL))
	e.mailNow(ctx, r.ID)
	return pw, nil
}

// mailNow tries to deliver the client's owed mails at once (when a mailer
// is configured); whatever fails stays in the outbox for the mailer loop.
func (e *Engine) mailNow(ctx context.Context, id string) {
	if e.cfg.Mailer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for e.mailer.Deliver(ctx, id) {
	}
	e.mailer.Owed()
}

// NewPassword gives the client a new generated password and owes its
// contact a registration mail with it (the admin pages' "send a new
// password"): the way back when the first mail was lost. The old password
// stops working at once.
func (e *Engine) NewPassword(ctx context.Context, adminSecret, id string) error {
	a, err := e.Admin(adminSecret)
	if err != nil {
		return err
	}
	return a.NewPassword(ctx, id)
}

// NewPassword is Engine.NewPassword once the admin secret is checked.
func (a Admin) NewPassword(ctx context.Context, id string) error {
	e, err := a.engine()
	if err != nil {
		return err
	}
	pw := secret.GeneratePassword()
	hash, err := secret.Hash(pw, false)
	if err != nil {
		return err
	}
	now := e.now()
	sealed := e.sealer.Seal(id, pw)
	_, err = e.store.UpdateClient(ctx, id, func(c *Client) error {
		c.PasswordHash, c.SealedPassword = hash, sealed
		box := c.Outbox[:0:0]
		for _, m := range c.Outbox {
			if m.Kind != MailRegistration { // an older password's mail is void
				box = append(box, m)
			}
		}
		c.Outbox = append(box, OutboxMail{Kind: MailRegistration, Queued: now, SealedPassword: sealed})
		return nil
	})
	if err != nil {
		return fmt.Errorf("lms: new password: %w", err)
	}
	e.passwords.Forget(id)
	e.log.Info("new password owed to the contact", "client", id)
	e.mailNow(ctx, id)
	return nil
}

// Authenticate returns nil if pw is the password of client id, and an error
// wrapping ErrUnauthorized otherwise (also for unknown clients). An unknown
// id costs the same work as a wrong password of a known one
// (secret.Verifier), so the time of the answer does not tell which ids
// exist.
func (e *Engine) Authenticate(ctx context.Context, id, pw string) error {
	c, err := e.store.GetClient(ctx, id)
	known := err == nil
	if !known && !isNotFoundOrInvalid(err) {
		return err
	}
	if !e.passwords.Check(id, pw, c.PasswordHash, known) {
		return fmt.Errorf("lms: client %q: %w", id, ErrUnauthorized)
	}
	// The callback needs the password; reseal it if the admin secret changed.
	if _, ok := e.sealer.Open(id, c.SealedPassword); !ok {
		sealed := e.sealer.Seal(id, pw)
		if _, err := e.store.UpdateClient(ctx, id, func(c *Client) error { c.SealedPassword = sealed; return nil }); err != nil {
			// Authenticated all the same; the next call tries again.
			e.log.Warn("resealing the client password", "client", id, "err", err)
		}
	}
	return nil
}

// RegisterURLs subscribes the client to every valid string of urls (invalid
// ones are dropped silently) and returns, in input order and with duplicates
// repeated, the state of each submitted URL that has been checked before.
func (e *Engine) RegisterURLs(ctx context.Context, clientID string, urls []string) ([]Update, error) {
	valid := validate.URLs(urls)
	var known map[string]Link
	if len(valid) > 0 {
		var added int
		var err error
		if sc, ok := e.store.(SubscribeCheckedStore); ok {
			added, known, err = sc.SubscribeChecked(ctx, clientID, valid, e.now())
		} else {
			added, err = e.store.Subscribe(ctx, clientID, valid, e.now())
		}
		if err != nil {
			return nil, fmt.Errorf("lms: register URLs: %w", err)
		}
		if added > 0 {
			e.sched.linksAdded() // checked within milliseconds, not at the next poll
		}
	} else if _, err := e.store.GetClient(ctx, clientID); err != nil {
		return nil, fmt.Errorf("lms: register URLs: %w", err)
	}
	if known == nil {
		var err error
		if known, err = e.store.LookupLinks(ctx, valid); err != nil {
			return nil, fmt.Errorf("lms: register URLs: %w", err)
		}
	}
	out := []Update{}
	for _, u := range urls {
		if l, ok := known[u]; ok && !l.LastChecked.IsZero() {
			out = append(out, l.Update())
		}
	}
	return out, nil
}

// UnregisterURLs removes the client's subscriptions to urls; unknown ones
// are ignored and the links stay known to the server.
func (e *Engine) UnregisterURLs(ctx context.Context, clientID string, urls []string) error {
	if _, err := e.store.Unsubscribe(ctx, clientID, urls); err != nil {
		return fmt.Errorf("lms: unregister URLs: %w", err)
	}
	return nil
}

// Notifications reports whether the client's notifications are on.
func (e *Engine) Notifications(ctx context.Context, clientID string) (bool, error) {
	c, err := e.store.GetClient(ctx, clientID)
	if err != nil {
		return false, fmt.Errorf("lms: notifications: %w", err)
	}
	return c.Notify, nil
}

// SetNotifications switches the client's notifications (and syncs) on or
// off. Nothing pending is dropped; switching on resets the failure count,
// so everything pending is delivered at the next notifier tick.
func (e *Engine) SetNotifications(ctx context.Context, clientID string, on bool) error {
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		if on && !c.Notify {
			c.NotifyFailures, c.NextNotify, c.NotifyDisabledAt = 0, time.Time{}, time.Time{}
		}
		c.Notify = on
		return nil
	})
	if err != nil {
		return fmt.Errorf("lms: set notifications: %w", err)
	}
	return nil
}

// ForceSync asks for a full sync of the client at the next syncer tick (if
// its notifications are on).
func (e *Engine) ForceSync(ctx context.Context, clientID string) error {
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error { c.SyncForced = true; return nil })
	if err != nil {
		return fmt.Errorf("lms: force sync: %w", err)
	}
	return nil
}

// InfoFrameURL is the page getInfoFrameURL points clients to.
func (e *Engine) InfoFrameURL() string { return e.cfg.PublicURL + "/alerts" }

// Client returns one client.
func (e *Engine) Client(ctx context.Context, id string) (Client, error) {
	c, err := e.store.GetClient(ctx, id)
	if err != nil {
		return Client{}, fmt.Errorf("lms: client: %w", err)
	}
	return c, nil
}

// Clients returns all clients ordered by id.
func (e *Engine) Clients(ctx context.Context) ([]Client, error) {
	cs, err := e.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("lms: clients: %w", err)
	}
	return cs, nil
}

// ClientLinks returns a page of the client's links with all their details.
func (e *Engine) ClientLinks(ctx context.Context, clientID string, p Page) ([]Link, error) {
	ls, err := e.store.ClientLinks(ctx, clientID, p)
	if err != nil {
		return nil, fmt.Errorf("lms: client links: %w", err)
	}
	return ls, nil
}

// LinkStates returns the full details of each of urls, in input order; URLs
// the server does not know come back in state unknown.
func (e *Engine) LinkStates(ctx context.Context, clientID string, urls []string) ([]Link, error) {
	if _, err := e.store.GetClient(ctx, clientID); err != nil {
		return nil, fmt.Errorf("lms: link states: %w", err)
	}
	known, err := e.store.LookupLinks(ctx, urls)
	if err != nil {
		return nil, fmt.Errorf("lms: link states: %w", err)
	}
	out := make([]Link, len(urls))
	for i, u := range urls {
		l, ok := known[u]
		if !ok {
			l = Link{URL: u, State: StateUnknown, Host: HostKey(u)}
		}
		out[i] = l
	}
	return out, nil
}

// RemoveClient deletes a client, its subscriptions and pending
// notifications, after checking the admin secret.
func (e *Engine) RemoveClient(ctx context.Context, adminSecret, id string) error {
	a, err := e.Admin(adminSecret)
	if err != nil {
		return err
	}
	return a.RemoveClient(ctx, id)
}

// RemoveClient is Engine.RemoveClient once the admin secret is checked.
func (a Admin) RemoveClient(ctx context.Context, id string) error {
	e, err := a.engine()
	if err != nil {
		return err
	}
	if err := e.store.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("lms: remove client: %w", err)
	}
	e.passwords.Forget(id)
	e.log.Info("client removed", "client", id)
	return nil
}

// Sync runs one full sync of the client now: pull its list of links,
// de-duplicate and validate it, replace its subscriptions in one atomic
// step, and push the state of all its links. A failure is recorded on the
// client and retried at the next period; it does not count toward
// switching notifications off. It returns the error, if any.
func (e *Engine) Sync(ctx context.Context, id string) error {
	if e.cfg.Lister == nil || e.cfg.Notifier == nil {
		return fmt.Errorf("lms: sync %q: %w: Config.Lister and Config.Notifier are required", id, ErrInvalid)
	}
	return e.syncer.Sync(ctx, id)
}
