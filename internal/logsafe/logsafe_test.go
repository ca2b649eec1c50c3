package logsafe

import (
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	if got := Value("short"); got != "short" {
		t.Errorf("Value(short) = %q", got)
	}
	long := strings.Repeat("é", 300) // 600 bytes
	got := Value(long)
	if len(got) > MaxValue+20 || !strings.HasSuffix(got, "…(600 bytes)") || !strings.HasPrefix(got, "éé") {
		t.Errorf("Value(600 bytes) = %q (%d bytes)", got, len(got))
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:secret@site.example/db": "http://…@site.example/db",
		"http://token@site.example/db":       "http://…@site.example/db",
		"http://site.example/db":             "http://site.example/db",
		"::not a url":                        "::not a url",
	} {
		if got := URL(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}
