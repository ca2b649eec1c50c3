package lms

import "testing"

func TestRefreshForms(t *testing.T) {
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
		if got := refreshURL(c.content); got != c.want {
			t.Errorf("refreshURL(%q) = %q, want %q", c.content, got, c.want)
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
		if got := metaRefresh([]byte(c.head)); got != c.want {
			t.Errorf("metaRefresh(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}
