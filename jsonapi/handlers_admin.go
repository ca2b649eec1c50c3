package jsonapi

import (
	"net/http"
	"net/url"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/validate"
)

// The operator's paths under /api/v1/admin/.

// newClientRequest is the body of POST /api/v1/admin/clients.
type newClientRequest struct {
	ID           string  `json:"id"`
	ContactName  string  `json:"contact_name"`
	ContactEmail string  `json:"contact_email"`
	CallbackURL  *string `json:"callback_url"`
	WebhookURL   *string `json:"webhook_url"`
	TokenName    *string `json:"token_name"`
	Digest       *string `json:"digest"`
}

type newClientAnswer struct {
	Client clientJSON `json:"client"`
	Token  *tokenJSON `json:"token,omitempty"`
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, a lms.Admin) error {
	var req newClientRequest
	if p := s.readJSON(w, r, &req); p != nil {
		return p
	}
	reg := lms.Registration{ID: req.ID, ContactName: req.ContactName, ContactEmail: req.ContactEmail, CallbackOptional: true, Digest: lms.DigestDaily}
	if req.CallbackURL != nil {
		reg.CallbackURL = *req.CallbackURL
	}
	var errs []fieldError
	if req.ID == "" {
		errs = append(errs, fieldError{Field: "/id", Detail: "required"})
	}
	if req.ContactEmail == "" {
		errs = append(errs, fieldError{Field: "/contact_email", Detail: "required: the password goes there"})
	}
	if req.WebhookURL != nil && validate.CallbackURL(*req.WebhookURL) != nil {
		errs = append(errs, fieldError{Field: "/webhook_url", Detail: "an http or https URL with a host"})
	}
	if req.Digest != nil {
		m, ok := digestMode(*req.Digest)
		if !ok {
			errs = append(errs, fieldError{Field: "/digest", Detail: `one of "off", "daily", "weekly"`})
		}
		reg.Digest = m
	}
	if req.CallbackURL != nil && *req.CallbackURL == "" {
		errs = append(errs, fieldError{Field: "/callback_url", Detail: "omit it or give an http or https URL"})
	}
	if len(errs) > 0 {
		return newProblem(http.StatusUnprocessableEntity, "The request has invalid fields; nothing was changed.", errs...)
	}
	if ch := (lms.ClientChange{ContactName: &req.ContactName, ContactEmail: &req.ContactEmail, CallbackURL: &reg.CallbackURL}); ch.Validate() != nil {
		return patchProblem(ch)
	}
	if _, err := a.RegisterClient(r.Context(), reg); err != nil {
		return err
	}
	if req.WebhookURL != nil {
		if err := s.e.SetWebhookURL(r.Context(), req.ID, *req.WebhookURL); err != nil {
			return fieldErr(err, "/webhook_url", "not an acceptable webhook URL (http or https, a public address)")
		}
	}
	name := "initial"
	if req.TokenName != nil {
		name = *req.TokenName
	}
	tok, rec, err := s.e.CreateToken(r.Context(), req.ID, name)
	if err != nil {
		return fieldErr(err, "/token_name", "1 to 64 letters, digits, '.', '_' or '-'")
	}
	c, err := s.e.Client(r.Context(), req.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/admin/clients/"+url.PathEscape(req.ID))
	writeJSON(w, http.StatusCreated, newClientAnswer{Client: client(c), Token: &tokenJSON{Name: rec.Name, Created: timeOrNil(rec.Created), Token: tok}})
	return nil
}

type clientsPage struct {
	Clients    []clientJSON `json:"clients"`
	NextCursor *string      `json:"next_cursor,omitempty"`
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request, _ lms.Admin) error {
	q, p := readQuery(r)
	if p != nil {
		return p
	}
	all, err := s.e.Clients(r.Context())
	if err != nil {
		return err
	}
	ans := clientsPage{Clients: []clientJSON{}}
	for _, c := range all {
		if c.ID <= q.after {
			continue
		}
		if len(ans.Clients) == q.limit {
			ans.NextCursor = strOrNil(encodeCursor(ans.Clients[len(ans.Clients)-1].ID))
			break
		}
		ans.Clients = append(ans.Clients, client(c))
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

func (s *Server) getClientAdmin(w http.ResponseWriter, r *http.Request, _ lms.Admin) error {
	return s.getClient(w, r, r.PathValue("id"))
}

func (s *Server) patchClientAdmin(w http.ResponseWriter, r *http.Request, _ lms.Admin) error {
	return s.patchClient(w, r, r.PathValue("id"))
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request, a lms.Admin) error {
	if err := a.RemoveClient(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
