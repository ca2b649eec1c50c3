package browser

import (
	"testing"
	"time"
)

func TestRefreshForms(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ content, want string }{
		{"0; url=/new", "/new"},
		{"0;URL='/new?a=1'", "/new?a=1"},
		{`3; url="http://example.org/x"`, "http://example.org/x"},
		{"0, url=/new", "/new"},
		{"1.5;url=/new", "/new"},
		{"0;/new", "/new"},
		{"6; url=/later", ""}, // read first by the person
		{"300", ""},           // reloads itself
		{"", ""},
		{"soon; url=/x", ""},
	} {
		if got := RefreshURL(c.content); got != c.want {
			t.Errorf("RefreshURL(%q) = %q, want %q", c.content, got, c.want)
		}
	}
	for _, c := range []struct{ head, want string }{
		{`<html><head><meta http-equiv="refresh" content="0; url=/gone"></head>`, "0; url=/gone"},
		{`<META HTTP-EQUIV='Refresh' CONTENT='0;URL=/Gone'>`, "0;URL=/Gone"},
		{`<meta http-equiv=refresh content=0;url=/gone>`, "0;url=/gone"},
		{`<meta charset="utf-8"><meta name="description" content="refresh your memory">`, ""},
		{`<noscript><meta http-equiv="refresh" content="0; url=/nojs"></noscript>`, ""},
		{`<noscript>x</noscript><meta http-equiv="refresh" content="0; url=/js">`, "0; url=/js"},
	} {
		if got := MetaRefresh([]byte(c.head)); got != c.want {
			t.Errorf("MetaRefresh(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"Mon, 23 Nov 2026 12:01:30 GMT", 90 * time.Second},
		{"120", 2 * time.Minute},
		{"soon", 0},
		{"-5", 0},
		{"", 0},
	} {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
