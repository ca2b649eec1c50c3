package jsonapi

import (
	"context"
	"reflect"

	"github.com/linkmonitor/lms"
)

// webhooks is the webhook side of the Engine (signing secrets, test
// deliveries, the deliveries log), built beside this package. Handlers
// reach it through this interface, asserted on the Engine at run time, so
// that the package builds while the Engine does not have it yet; without
// it the webhook paths answer 503.
type webhooks interface {
	SetWebhookURL(ctx context.Context, clientID, rawURL string) error
	RotateWebhookSecret(ctx context.Context, clientID string) (string, error)
	TestWebhook(ctx context.Context, clientID string) (lms.WebhookDelivery, error)
	WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]lms.WebhookDelivery, error)
}

// hooks returns the Engine's webhook side, if it has one.
func (s *Server) hooks() (webhooks, bool) {
	w, ok := any(s.e).(webhooks)
	return w, ok
}

// webhookURL returns the client's webhook URL: the field WebhookURL of
// lms.Client where it exists (read by name until the webhook side is
// merged; then this is c.WebhookURL).
func webhookURL(c lms.Client) string {
	f := reflect.ValueOf(c).FieldByName("WebhookURL")
	if f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}
