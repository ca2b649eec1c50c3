package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
)

// The kinds of mail (Mail.Kind).
const (
	KindRegistration    = "registration"           // the client's password (PROTOCOL.md §5)
	KindNotifyDisabled  = "notifications disabled" // repeated failures switched notifications off
	KindSyncTooLarge    = "link list too large"    // the link list is over a limit: no sync
	KindWebhookDisabled = "webhook disabled"       // repeated failures turned the webhook off
	KindDigest          = "digest"                 // its text is made when it is owed (internal/digest)
)

// text returns the subject and body of the mail of kind (one but
// KindDigest) to c's contact, from the server at publicURL; pw is a
// registration mail's password.
func text(kind string, c Client, publicURL, pw string) (subject, body string) {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("Hello %s,\n\n", c.ContactName)
	switch kind {
	case KindRegistration:
		subject = fmt.Sprintf("Registration of client id %q", c.ID)
		p("a client of the Link Monitoring Server has been registered for you.\n\n")
		p("Client id:     %s\n", c.ID)
		p("Password:      %s\n", pw)
		p("Callback URL:  %s\n", c.CallbackURL)
		p("Contact:       %s <%s>\n", c.ContactName, c.ContactEmail)
		p("LMS address:   %s/\n\n", publicURL)
		p("Enter the LMS address, the client id and the password in your site's link\n")
		p("checker settings. This mail is the only copy of the password: keep it safe.\n")
	case KindNotifyDisabled:
		subject = fmt.Sprintf("Notifications of client id %q disabled", c.ID)
		p("the Link Monitoring Server at %s/ could not deliver link state\n", publicURL)
		p("notifications to your client %q %d times in a row, and has switched\n", c.ID, c.NotifyFailures)
		p("its notifications off.\n\n")
		p("Callback URL:        %s\n", logsafe.URL(c.CallbackURL))
		p("Last success:        %s\n", fmtTime(c.LastNotified))
		p("Switched off at:     %s\n", fmtTime(c.NotifyDisabledAt))
		p("Last error:          %s\n\n", c.LastNotifyError)
		p("No change is lost: once the site can be reached again, switch notifications\n")
		p("back on in the site's link checker settings (setClientNotifications) and\n")
		p("everything pending will be delivered.\n")
	case KindSyncTooLarge:
		subject = fmt.Sprintf("Link list of client id %q too large to synchronise", c.ID)
		p("the Link Monitoring Server at %s/ could not synchronise with your client\n", publicURL)
		p("%q: the list of links your site sent (xmlrpc_getAllLinks) is larger than\n", c.ID)
		p("this server accepts.\n\n")
		p("Callback URL:        %s\n", logsafe.URL(c.CallbackURL))
		p("Last success:        %s\n", fmtTime(c.LastSync))
		p("Error:               %s\n\n", c.LastSyncError)
		p("Nothing was removed: the links registered so far are still checked and\n")
		p("their changes still notified. The server tries again at the next daily\n")
		p("synchronisation and writes again only after one has succeeded. If the\n")
		p("list is right, ask the server's operator to raise the limit.\n")
	case KindWebhookDisabled:
		subject = fmt.Sprintf("Webhook of client id %q turned off", c.ID)
		p("the Link Monitoring Server at %s/ could not deliver webhook events to\n", publicURL)
		p("your client %q %d times in a row, and has turned its webhook off.\n\n", c.ID, c.Failures)
		p("Webhook URL:         %s\n", logsafe.URL(c.URL))
		p("Switched off at:     %s\n", fmtTime(c.DisabledAt))
		p("Last error:          %s\n\n", c.LastError)
		p("No event is lost: they wait, in order. Once the receiver works again, set\n")
		p("the webhook URL again (PATCH /api/v1/client) and they will be delivered.\n")
	}
	return subject, b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC1123)
}
