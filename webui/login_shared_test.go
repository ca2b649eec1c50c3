package webui

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
)

// TestAdminLoginThrottleShared: two web UIs over one PostgreSQL (two
// processes of a deployment) count the admin login's failures together:
// an address gets 10 guesses checked in all, not 10 in each, and the
// secret as a whole 30; an address that logged in through a UI is still
// let through by that UI during a distributed attack.
func TestAdminLoginThrottleShared(t *testing.T) {
	dsn := pgtest.Start(t)
	var uis []http.Handler
	for range 2 {
		st, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker})
		if err != nil {
			t.Fatal(err)
		}
		ui, err := New(e, Config{AdminSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		if ui.logins.shared == nil {
			t.Fatal("a pgstore is an lms.ThrottleStore: the guard should count in it")
		}
		uis = append(uis, ui)
	}
	if c := login(uis[0], "192.0.2.9", secret); c != http.StatusOK {
		t.Fatalf("the operator's login through the first UI = %d", c)
	}
	codes := map[int]int{}
	for i := range 30 {
		codes[login(uis[i%2], "192.0.2.1", "guess")]++
	}
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 20 {
		t.Errorf("30 guesses from one address through both UIs: %v, want 10 checked (401) in all and 20 refused (429)", codes)
	}
	for i, ui := range uis {
		if c := login(ui, "192.0.2.1", secret); c != http.StatusTooManyRequests {
			t.Errorf("UI %d: the right secret from the blocked address = %d, want 429", i, c)
		}
	}
	if c := login(uis[1], "192.0.2.2", secret); c != http.StatusOK {
		t.Errorf("the right secret from another address = %d, want 200 (a good login gives its reservation back)", c)
	}
	// 20 more failures from many addresses use up the secret's 30.
	for i := range 24 {
		login(uis[i%2], fmt.Sprintf("198.51.100.%d", i), "guess")
	}
	for i, ui := range uis {
		if c := login(ui, "203.0.113.7", secret); c != http.StatusTooManyRequests {
			t.Errorf("UI %d: the right secret from a new address during a distributed attack = %d, want 429", i, c)
		}
	}
	if c := login(uis[0], "192.0.2.9", secret); c != http.StatusOK {
		t.Errorf("the operator's address through the UI it logged in to = %d, want 200", c)
	}
}
