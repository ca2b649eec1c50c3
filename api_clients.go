package lms

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/validate"
)

// ClientChange is a change of a client's settings (PATCH /api/v1/client and
// /api/v1/admin/clients/{id}): nil fields stay as they are.
type ClientChange struct {
	ContactName   *string
	ContactEmail  *string
	CallbackURL   *string // "" removes it
	Notifications *bool
	Digest        *DigestMode
}

// Validate reports ErrInvalid if a field of ch is not acceptable (the rules
// of RegisterClient).
func (ch ClientChange) Validate() error {
	if n := ch.ContactName; n != nil && (len(*n) > 256 || strings.ContainsAny(*n, "\r\n")) {
		return fmt.Errorf("lms: contact name: %w", ErrInvalid)
	}
	if e := ch.ContactEmail; e != nil {
		if _, err := mail.ParseAddress(*e); err != nil || len(*e) > 254 {
			return fmt.Errorf("lms: contact e-mail %q: %w", *e, ErrInvalid)
		}
	}
	if ch.Digest != nil && !ch.Digest.Valid() {
		return fmt.Errorf("lms: digest %q: %w", *ch.Digest, ErrInvalid)
	}
	if ch.CallbackURL != nil && *ch.CallbackURL != "" {
		if err := validate.CallbackURL(*ch.CallbackURL); err != nil {
			return fmt.Errorf("lms: %w: %w", ErrInvalid, err)
		}
	}
	return nil
}

// ChangeClient applies ch to the client after validating all of it (an
// invalid field gives ErrInvalid and changes nothing) and returns the
// client as it is then. Switching notifications on resets the failure
// count as SetNotifications does.
func (e *Engine) ChangeClient(ctx context.Context, clientID string, ch ClientChange) (Client, error) {
	if err := ch.Validate(); err != nil {
		return Client{}, err
	}
	var email string
	if ch.ContactEmail != nil {
		addr, _ := mail.ParseAddress(*ch.ContactEmail) // valid: see Validate
		email = addr.Address
	}
	c, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		if ch.ContactName != nil {
			c.ContactName = *ch.ContactName
		}
		if ch.ContactEmail != nil {
			c.ContactEmail = email
		}
		if ch.CallbackURL != nil {
			c.CallbackURL = *ch.CallbackURL
		}
		if on := ch.Notifications; on != nil {
			if *on && !c.Notify {
				c.NotifyFailures, c.NextNotify, c.NotifyDisabledAt = 0, time.Time{}, time.Time{}
			}
			c.Notify = *on
		}
		if d := ch.Digest; d != nil {
			if c.Digest == DigestOff && *d != DigestOff {
				c.DigestCovered = e.now() // the first digest covers from now on
			}
			c.Digest = *d
		}
		return nil
	})
	if err != nil {
		return Client{}, fmt.Errorf("lms: change client: %w", err)
	}
	e.log.Info("client settings changed", "client", clientID)
	return c, nil
}
