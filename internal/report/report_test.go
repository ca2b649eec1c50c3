package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/report"
	"github.com/linkmonitor/lms/memstore"
)

func newEngine(t *testing.T) *lms.Engine {
	t.Helper()
	e, err := lms.New(memstore.New(), lms.Config{AdminSecret: "s", Components: lms.RunChecker, NoArchive: true,
		Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.RegisterClient(context.Background(), "s", lms.Registration{ID: "c", ContactEmail: "c@example.org", CallbackURL: "http://c.example/db"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// The ignored links are merged in across several pages of both listings
// (more than one chunk of each), and paging with any limit sees every row
// once.
func TestPageMergesIgnores(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	var all, ignored []string
	for i := range 2600 {
		all = append(all, fmt.Sprintf("http://h%d.example/%04d", i%7, i))
	}
	slices.Sort(all)
	for i, u := range all {
		if i%3 == 0 {
			ignored = append(ignored, u)
		}
	}
	if _, err := e.RegisterLinks(ctx, "c", all); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ignore(ctx, "c", ignored, false); err != nil {
		t.Fatal(err)
	}
	isIgnored := map[string]bool{}
	for _, u := range ignored {
		isIgnored[u] = true
	}
	for _, tc := range []struct {
		ig   report.Ignored
		want func(string) bool
	}{
		{report.HideIgnored, func(u string) bool { return !isIgnored[u] }},
		{report.WithIgnored, func(string) bool { return true }},
		{report.OnlyIgnored, func(u string) bool { return isIgnored[u] }},
	} {
		var want []string
		for _, u := range all {
			if tc.want(u) {
				want = append(want, u)
			}
		}
		for _, limit := range []int{1000, 37} {
			var got []string
			after := ""
			for {
				rows, next, err := report.Page(ctx, e, "c", report.Query{Ignored: tc.ig}, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) > limit {
					t.Fatalf("a page of %d rows, limit %d", len(rows), limit)
				}
				for _, r := range rows {
					if (r.Ignore == lms.IgnoredForever) != isIgnored[r.URL] {
						t.Fatalf("%s: ignore mode %v", r.URL, r.Ignore)
					}
					got = append(got, r.URL)
				}
				if next == "" {
					break
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("ignored %d, limit %d: %d rows, want %d", tc.ig, limit, len(got), len(want))
			}
		}
	}
	if _, _, err := report.Page(ctx, e, "c", report.Query{}, "", 0); err == nil {
		t.Error("limit 0: no error")
	}
	if _, _, err := report.Page(ctx, e, "nobody", report.Query{}, "", 10); err == nil {
		t.Error("an unknown client: no error")
	}
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\t=x": "'\t=x", "\r=x": "'\r=x",
		"": "", "http://x/": "http://x/", "a=b": "a=b",
	} {
		if got := report.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriters(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	if _, _, err := e.PutSource(ctx, "c", lms.Source{SourceRef: lms.SourceRef{ID: "p", Title: "=cmd \"quoted\", title", EditURL: "http://cms.example/p", Owner: "=owner"},
		Links: []string{"http://a.example/", "http://b.example/"}}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.WriteCSV(ctx, &b, e, "c", report.Query{}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || !slices.Equal(recs[0], report.CSVHeader) || recs[1][11] != "'=cmd \"quoted\", title <http://cms.example/p>" || recs[1][1] != "unknown" {
		t.Errorf("CSV: %q", recs)
	}
	b.Reset()
	if err := report.WriteJSON(ctx, &b, e, "c", report.Query{}, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Client      string           `json:"client"`
		GeneratedAt string           `json:"generated"`
		Links       []report.JSONRow `json:"links"`
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Client != "c" || doc.GeneratedAt != "2026-12-07T00:00:00Z" || len(doc.Links) != 2 || doc.Links[0].Sources[0].Owner == nil || *doc.Links[0].Sources[0].Owner != "=owner" {
		t.Errorf("JSON: %+v", doc)
	}
	// An empty report is valid JSON too.
	b.Reset()
	if err := report.WriteJSON(ctx, &b, e, "c", report.Query{Ignored: report.OnlyIgnored}, time.Now()); err != nil || !json.Valid(b.Bytes()) || !strings.Contains(b.String(), `"links":[]`) {
		t.Errorf("empty JSON report: %v %s", err, b.String())
	}
}

// failingStore fails to list a client's links after the URL from: a store
// that breaks while a report is written.
type failingStore struct {
	*memstore.Store
	from string
}

var errDown = errors.New("the store is down")

func (s *failingStore) ClientLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.Link, error) {
	if p.After >= s.from {
		return nil, errDown
	}
	return s.Store.ClientLinks(ctx, clientID, p)
}

// A report whose first page cannot be read writes nothing (the front door
// can still answer an error); one that fails later returns the error
// after what it wrote, which is not a whole report: JSON that does not
// parse, CSV without the rows after the failure.
func TestWritersFail(t *testing.T) {
	for _, tc := range []struct {
		name, from string
		wrote      bool
	}{
		{"first page", "", false},
		{"second page", "http://h.example/0999", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &failingStore{Store: memstore.New(), from: "~"}
			e, err := lms.New(fs, lms.Config{AdminSecret: "s", Components: lms.RunChecker, NoArchive: true,
				Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := e.RegisterClient(ctx, "s", lms.Registration{ID: "c", ContactEmail: "c@example.org", CallbackURL: "http://c.example/db"}); err != nil {
				t.Fatal(err)
			}
			var urls []string
			for i := range 2500 {
				urls = append(urls, fmt.Sprintf("http://h.example/%04d", i))
			}
			if _, err := e.RegisterLinks(ctx, "c", urls); err != nil {
				t.Fatal(err)
			}
			fs.from = tc.from // the Engine runs nothing in the background: no race
			var b bytes.Buffer
			if err := report.WriteJSON(ctx, &b, e, "c", report.Query{Ignored: report.WithIgnored}, time.Now()); !errors.Is(err, errDown) {
				t.Fatalf("WriteJSON: %v", err)
			}
			if tc.wrote != (b.Len() > 0) || json.Valid(b.Bytes()) {
				t.Errorf("JSON: %d bytes written, valid %v", b.Len(), json.Valid(b.Bytes()))
			}
			b.Reset()
			if err := report.WriteCSV(ctx, &b, e, "c", report.Query{}); !errors.Is(err, errDown) {
				t.Fatalf("WriteCSV: %v", err)
			}
			if tc.wrote != (b.Len() > 0) || strings.Contains(b.String(), urls[len(urls)-1]) {
				t.Errorf("CSV: %d bytes written, the last link in it: %v", b.Len(), strings.Contains(b.String(), urls[len(urls)-1]))
			}
		})
	}
}
