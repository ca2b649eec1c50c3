package validate

import (
	"slices"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"http://x.example/", true},
		{"HTTP://x.example/%7e", true},
		{"mailto:someone@example.org", true},
		{"javascript:void(0)", true},
		{"news:comp.lang.go", true},
		{"svn+ssh://h/x", true},
		{"", false},
		{"relative/path", false},
		{"/abs", false},
		{":nothing", false},
		{"http://x/a b", false},
		{"http://x/\x00", false},
		{"http://x/\x7f", false},
		{"http://bücher.example/", false},
		{"ht tp://x/", false},
		{"http://x.example/" + strings.Repeat("p", MaxURLLength), false},
	} {
		if err := URL(tc.in); (err == nil) != tc.ok {
			t.Errorf("URL(%.40q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestURLs(t *testing.T) {
	got := URLs([]string{"b:x", "bad", "a:y", "b:x", "", "a:y", "c:z"})
	if want := []string{"b:x", "a:y", "c:z"}; !slices.Equal(got, want) {
		t.Errorf("URLs = %q, want %q", got, want)
	}
}

func TestCallbackURL(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"http://site.example/portal_linkchecker/database", true},
		{"https://u:p@site.example/db", true},
		{"ftp://site.example/", false},
		{"http:///nohost", false},
		{"http://site.example/a b", false},
		{"", false},
	} {
		if err := CallbackURL(tc.in); (err == nil) != tc.ok {
			t.Errorf("CallbackURL(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestClientID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"plone", true},
		{"Süd site", true},
		{"", false},
		{"a\nb", false},
		{"\xff", false},
		{strings.Repeat("x", MaxIDLength+1), false},
	} {
		if err := ClientID(tc.in); (err == nil) != tc.ok {
			t.Errorf("ClientID(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}
