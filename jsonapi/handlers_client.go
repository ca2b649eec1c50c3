package jsonapi

import (
	"net/http"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/validate"
)

// The client's own resources: settings, tokens, webhook.

func (s *Server) getClient(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.e.Client(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client(c))
	return nil
}

// clientPatch is the body of PATCH /api/v1/client (and of the operator's
// PATCH of a client).
type clientPatch struct {
	ContactName   nullable[string] `json:"contact_name"`
	ContactEmail  nullable[string] `json:"contact_email"`
	CallbackURL   nullable[string] `json:"callback_url"`
	WebhookURL    nullable[string] `json:"webhook_url"`
	Notifications nullable[bool]   `json:"notifications"`
	Digest        nullable[string] `json:"digest"`
}

// change validates the patch's shape and returns the Engine's change.
func (p clientPatch) change() (lms.ClientChange, error) {
	var ch lms.ClientChange
	for _, f := range []struct {
		name string
		n    bool
	}{{"contact_name", p.ContactName.Null}, {"contact_email", p.ContactEmail.Null}, {"notifications", p.Notifications.Null}, {"digest", p.Digest.Null}} {
		if f.n {
			return ch, invalid("/"+f.name, "may not be null")
		}
	}
	if p.ContactName.Set {
		ch.ContactName = &p.ContactName.V
	}
	if p.ContactEmail.Set {
		ch.ContactEmail = &p.ContactEmail.V
	}
	if p.CallbackURL.Set {
		if !p.CallbackURL.Null && p.CallbackURL.V == "" {
			return ch, invalid("/callback_url", "use null to remove the callback URL")
		}
		ch.CallbackURL = &p.CallbackURL.V
	}
	if p.Notifications.Set {
		ch.Notifications = &p.Notifications.V
	}
	if p.Digest.Set {
		m, ok := digestMode(p.Digest.V)
		if !ok {
			return ch, invalid("/digest", `one of "off", "daily", "weekly"`)
		}
		ch.Digest = &m
	}
	if p.WebhookURL.Set && !p.WebhookURL.Null && validate.CallbackURL(p.WebhookURL.V) != nil {
		return ch, invalid("/webhook_url", "an http or https URL with a host; null removes it")
	}
	return ch, nil
}

// applyPatch applies p to client id: the webhook URL first (it has its own
// checks), then the rest in one step.
func (s *Server) applyPatch(r *http.Request, id string, p clientPatch) (lms.Client, error) {
	ch, err := p.change()
	if err != nil {
		return lms.Client{}, err
	}
	// Validate before anything changes: a bad address must not leave a
	// changed webhook behind.
	if err := ch.Validate(); err != nil {
		return lms.Client{}, patchProblem(ch)
	}
	if p.WebhookURL.Set {
		if err := s.e.SetWebhookURL(r.Context(), id, p.WebhookURL.V); err != nil {
			return lms.Client{}, fieldErr(err, "/webhook_url", "not an acceptable webhook URL (http or https, a public address)")
		}
	}
	return s.e.ChangeClient(r.Context(), id, ch)
}

// patchProblem names the fields of ch that Validate refuses.
func patchProblem(ch lms.ClientChange) *problem {
	var errs []fieldError
	if (lms.ClientChange{ContactName: ch.ContactName}).Validate() != nil {
		errs = append(errs, fieldError{Field: "/contact_name", Detail: "at most 256 bytes, one line"})
	}
	if (lms.ClientChange{ContactEmail: ch.ContactEmail}).Validate() != nil {
		errs = append(errs, fieldError{Field: "/contact_email", Detail: "not a mail address"})
	}
	if (lms.ClientChange{CallbackURL: ch.CallbackURL}).Validate() != nil {
		errs = append(errs, fieldError{Field: "/callback_url", Detail: "not an http or https URL with a host"})
	}
	return newProblem(http.StatusUnprocessableEntity, "The request has invalid fields; nothing was changed.", errs...)
}

// fieldErr names field in an ErrInvalid of the Engine.
func fieldErr(err error, field, detail string) error {
	if err == nil || field == "" {
		return err
	}
	if p := problemOf(err); p.Status == http.StatusUnprocessableEntity && p.Errors == nil {
		return invalid(field, detail)
	}
	return err
}

func (s *Server) patchClient(w http.ResponseWriter, r *http.Request, id string) error {
	var p clientPatch
	if pr := s.readJSON(w, r, &p); pr != nil {
		return pr
	}
	c, err := s.applyPatch(r, id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client(c))
	return nil
}

type tokenRequest struct {
	Name string `json:"name"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, id string) error {
	var req tokenRequest
	if p := s.readJSON(w, r, &req); p != nil {
		return p
	}
	tok, rec, err := s.e.CreateToken(r.Context(), id, req.Name)
	if err != nil {
		return fieldErr(err, "/name", "1 to 64 letters, digits, '.', '_' or '-'; at most 20 tokens")
	}
	w.Header().Set("Location", "/api/v1/client/tokens/"+rec.Name)
	writeJSON(w, http.StatusCreated, tokenJSON{Name: rec.Name, Created: timeOrNil(rec.Created), Token: tok})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, id string) error {
	ts, err := s.e.Tokens(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSON{Name: t.Name, Created: timeOrNil(t.Created)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, id string) error {
	if err := s.e.RevokeToken(r.Context(), id, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request, id string) error {
	if err := s.e.ForceSync(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
