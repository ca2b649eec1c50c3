package outbox

import (
	"fmt"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
)

// The kinds of mail, all but digests written by Text.
const (
	KindRegistration    = "registration"           // the client's password (PROTOCOL.md §5)
	KindNotifyDisabled  = "notifications disabled" // repeated failures switched notifications off
	KindSyncTooLarge    = "link list too large"    // the link list is over a limit: no sync
	KindWebhookDisabled = "webhook disabled"       // repeated failures turned the webhook off
	KindDigest          = "digest"                 // its text is made when it is owed (internal/digest)
)

// Facts are what the mails tell of a client.
type Facts struct {
	PublicURL                      string // the server's address as clients see it
	ID, ContactName, ContactEmail  string
	CallbackURL                    string
	NotifyFailures                 int
	LastNotified, NotifyDisabledAt time.Time
	LastNotifyError                string
	LastSync                       time.Time
	LastSyncError                  string
	WebhookURL                     string
	WebhookFailures                int
	WebhookDisabledAt              time.Time
	WebhookLastError               string
	Password                       string // the registration mail's
}

// Text returns the subject and body of the mail of kind about f; ok is
// false for a kind it does not write.
func Text(kind string, f Facts) (subject, body string, ok bool) {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("Hello %s,\n\n", f.ContactName)
	switch kind {
	case KindRegistration:
		subject = fmt.Sprintf("Registration of client id %q", f.ID)
		p("a client of the Link Monitoring Server has been registered for you.\n\n")
		p("Client id:     %s\n", f.ID)
		p("Password:      %s\n", f.Password)
		p("Callback URL:  %s\n", f.CallbackURL)
		p("Contact:       %s <%s>\n", f.ContactName, f.ContactEmail)
		p("LMS address:   %s/\n\n", f.PublicURL)
		p("Enter the LMS address, the client id and the password in your site's link\n")
		p("checker settings. This mail is the only copy of the password: keep it safe.\n")
	case KindNotifyDisabled:
		subject = fmt.Sprintf("Notifications of client id %q disabled", f.ID)
		p("the Link Monitoring Server at %s/ could not deliver link state\n", f.PublicURL)
		p("notifications to your client %q %d times in a row, and has switched\n", f.ID, f.NotifyFailures)
		p("its notifications off.\n\n")
		p("Callback URL:        %s\n", logsafe.URL(f.CallbackURL))
		p("Last success:        %s\n", fmtTime(f.LastNotified))
		p("Switched off at:     %s\n", fmtTime(f.NotifyDisabledAt))
		p("Last error:          %s\n\n", f.LastNotifyError)
		p("No change is lost: once the site can be reached again, switch notifications\n")
		p("back on in the site's link checker settings (setClientNotifications) and\n")
		p("everything pending will be delivered.\n")
	case KindSyncTooLarge:
		subject = fmt.Sprintf("Link list of client id %q too large to synchronise", f.ID)
		p("the Link Monitoring Server at %s/ could not synchronise with your client\n", f.PublicURL)
		p("%q: the list of links your site sent (xmlrpc_getAllLinks) is larger than\n", f.ID)
		p("this server accepts.\n\n")
		p("Callback URL:        %s\n", logsafe.URL(f.CallbackURL))
		p("Last success:        %s\n", fmtTime(f.LastSync))
		p("Error:               %s\n\n", f.LastSyncError)
		p("Nothing was removed: the links registered so far are still checked and\n")
		p("their changes still notified. The server tries again at the next daily\n")
		p("synchronisation and writes again only after one has succeeded. If the\n")
		p("list is right, ask the server's operator to raise the limit.\n")
	case KindWebhookDisabled:
		subject = fmt.Sprintf("Webhook of client id %q turned off", f.ID)
		p("the Link Monitoring Server at %s/ could not deliver webhook events to\n", f.PublicURL)
		p("your client %q %d times in a row, and has turned its webhook off.\n\n", f.ID, f.WebhookFailures)
		p("Webhook URL:         %s\n", logsafe.URL(f.WebhookURL))
		p("Switched off at:     %s\n", fmtTime(f.WebhookDisabledAt))
		p("Last error:          %s\n\n", f.WebhookLastError)
		p("No event is lost: they wait, in order. Once the receiver works again, set\n")
		p("the webhook URL again (PATCH /api/v1/client) and they will be delivered.\n")
	default:
		return "", "", false
	}
	return subject, b.String(), true
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC1123)
}
