package jsonapi

import (
	"net/http"
)

// The client's webhook: signing secrets, test deliveries and the
// deliveries log (the Engine's webhook side; see webhook.go at the root).

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, id string) error {
	sec, err := s.e.RotateWebhookSecret(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"secret": sec})
	return nil
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, id string) error {
	d, err := s.e.TestWebhook(r.Context(), id)
	if err != nil {
		if p := problemOf(err); p.Status == http.StatusUnprocessableEntity {
			return newProblem(http.StatusUnprocessableEntity, "The client has no webhook URL; set one with PATCH /api/v1/client.",
				fieldError{Field: "webhook_url", Detail: "not set"})
		}
		return err
	}
	writeJSON(w, http.StatusAccepted, delivery(d))
	return nil
}

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request, id string) error {
	q, p := readQuery(r)
	if p != nil {
		return p
	}
	if q.after != "" {
		return invalid("cursor", "the deliveries list has one page: the last deliveries")
	}
	ds, err := s.e.WebhookDeliveries(r.Context(), id, q.limit)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = delivery(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
	return nil
}
