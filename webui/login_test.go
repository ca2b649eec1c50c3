package webui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func login(ui http.Handler, addr, pw string) int {
	req := httptest.NewRequest("GET", "/admin", nil)
	req.RemoteAddr = addr + ":40000"
	req.SetBasicAuth("admin", pw)
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	return rec.Code
}

// Guesses at the admin secret are throttled on the admin pages as in the
// XML-RPC API: one address after 10 failures; the secret as a whole after
// 30 failures from many addresses, except for addresses that logged in
// before.
func TestAdminLoginIsThrottled(t *testing.T) {
	e, _ := newEngine(t)
	ui, err := New(e, Config{AdminSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if c := login(ui, "192.0.2.9", secret); c != http.StatusOK {
		t.Fatalf("the operator's login = %d", c)
	}
	codes := map[int]int{}
	for range 500 {
		codes[login(ui, "192.0.2.1", "guess")]++
	}
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 490 {
		t.Errorf("500 guesses from one address: %v, want 10 checked (401) and 490 refused (429)", codes)
	}
	if c := login(ui, "192.0.2.1", secret); c != http.StatusTooManyRequests {
		t.Errorf("the right secret from the blocked address = %d, want 429 (not even checked)", c)
	}
	if c := login(ui, "192.0.2.2", secret); c != http.StatusOK {
		t.Errorf("the right secret from another address = %d, want 200", c)
	}
	// Guesses spread over many addresses block the secret as a whole.
	for i := range 40 {
		login(ui, fmt.Sprintf("198.51.100.%d", i), "guess")
	}
	if c := login(ui, "203.0.113.7", secret); c != http.StatusTooManyRequests {
		t.Errorf("the right secret from a new address during a distributed attack = %d, want 429", c)
	}
	if c := login(ui, "192.0.2.9", secret); c != http.StatusOK {
		t.Errorf("the operator's address during the attack = %d, want 200", c)
	}
}
