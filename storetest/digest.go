package storetest

// The digest settings of a client and the digest mails of its outbox.

import (
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// testClientDigest: a client's digest mode and the end of its last digest
// come back as created and as changed, and a digest mail in the outbox
// keeps its recipient and its text (also its HTML, and several mails owed
// at one instant to different recipients).
func testClientDigest(t *testing.T, s lms.Store) {
	mustClient(t, s, "off")
	if c, err := s.GetClient(ctx(), "off"); err != nil || c.Digest != lms.DigestOff || !c.DigestCovered.IsZero() {
		t.Fatalf("a client created without a digest: Digest %q, DigestCovered %v, err %v; want off, zero", c.Digest, c.DigestCovered, err)
	}
	c := lms.Client{ID: "a", ContactEmail: "a@example.org", Created: t0, Digest: lms.DigestDaily, DigestCovered: t0}
	if err := s.CreateClient(ctx(), c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetClient(ctx(), "a")
	if err != nil || got.Digest != lms.DigestDaily || !got.DigestCovered.Equal(t0) {
		t.Fatalf("GetClient: Digest %q, DigestCovered %v, err %v; want daily, %v", got.Digest, got.DigestCovered, err, t0)
	}
	end := t0.Add(7*24*time.Hour + time.Nanosecond)
	mails := []lms.OutboxMail{
		{Kind: lms.MailDigest, Queued: end, Subject: "Links of \"a\": 1 link broke", Body: "text ✓\n", HTML: "<p>html &amp; ✓</p>"},
		{Kind: lms.MailDigest, Queued: end, To: "owner@example.org", Subject: "owner", Body: "owner text", HTML: "<p>owner</p>"},
	}
	if _, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error {
		c.Digest, c.DigestCovered = lms.DigestWeekly, end
		c.Outbox = append(c.Outbox, mails...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g, err := s.GetClient(ctx(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if g.Digest != lms.DigestWeekly || !g.DigestCovered.Equal(end) {
		t.Errorf("after UpdateClient: Digest %q, DigestCovered %v; want weekly, %v", g.Digest, g.DigestCovered, end)
	}
	if len(g.Outbox) != 2 {
		t.Fatalf("outbox = %+v, want the two digest mails", g.Outbox)
	}
	for i, m := range g.Outbox {
		w := mails[i]
		if m.Kind != w.Kind || !m.Queued.Equal(w.Queued) || m.To != w.To || m.Subject != w.Subject || m.Body != w.Body || m.HTML != w.HTML {
			t.Errorf("outbox[%d] = %+v, want %+v", i, m, w)
		}
	}
	cs, err := s.ListClients(ctx())
	if err != nil || len(cs) != 2 || cs[0].Digest != lms.DigestWeekly || len(cs[0].Outbox) != 2 || cs[0].Outbox[1].To != "owner@example.org" {
		t.Errorf("ListClients does not carry the digest settings and mails: %+v, %v", cs, err)
	}
}
