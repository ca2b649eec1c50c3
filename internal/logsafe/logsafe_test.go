package logsafe

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
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
		"http://user:secret@site.example/db":                     "http://user:xxxxx@site.example/db",
		"http://secret@site.example/db":                          "http://xxxxx@site.example/db",
		"http://site.example/db":                                 "http://site.example/db",
		"::not a url":                                            "::not a url",
		`Post "https://u:secret@s.example/x": EOF`:               `Post "https://u:xxxxx@s.example/x": EOF`,
		"see ftp://secret@f.example/ and mailto:a@b.example now": "see ftp://xxxxx@f.example/ and mailto:a@b.example now",
	} {
		if got := URL(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewTextHandler(&buf, nil), 2, time.Hour))
	log.Info("value", "url", strings.Repeat("x", 5000), "err", errors.New(strings.Repeat("e", 5000)))
	if buf.Len() > 1000 {
		t.Errorf("a record with two 5,000-byte values is %d bytes", buf.Len())
	}
	buf.Reset()
	for i := range 10 {
		log.Error("recording results", "i", i)
	}
	if n := strings.Count(buf.String(), "recording results"); n != 2 {
		t.Errorf("10 identical errors gave %d lines, want 2 (the burst):\n%s", n, buf.String())
	}
	log.Info("other", "k", "v") // info is not limited
	if !strings.Contains(buf.String(), "other") {
		t.Error("an info record was dropped")
	}
	h := Handler(slog.NewTextHandler(&buf, nil), 1, time.Nanosecond)
	buf.Reset()
	l2 := slog.New(h)
	l2.Warn("w")
	l2.Warn("w")
	if strings.Count(buf.String(), "level=WARN") != 2 {
		t.Errorf("after the window the limit starts again:\n%s", buf.String())
	}
	buf.Reset()
	slog.New(Handler(slog.NewTextHandler(&buf, nil), 5, time.Hour)).With("id", strings.Repeat("i", 999)).WithGroup("g").Info("m", "s", strings.Repeat("s", 999))
	if buf.Len() > 700 {
		t.Errorf("With and WithGroup values are not cut: %d bytes", buf.Len())
	}
}
