package lms

import (
	"reflect"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/check"
)

// The built-in checkers' results reach the root whole: every state and
// failure kind as the root's of the same name, every field carried.
func TestFromCheck(t *testing.T) {
	t.Parallel()
	for leaf, want := range map[check.State]State{
		check.StateOK: StateOK, check.StateTemporary: StateTemporary, check.StateUnavailable: StateUnavailable,
		check.StateUnsupported: StateUnsupported, check.StateUnknown: StateUnknown,
	} {
		if got := fromCheck(check.Result{State: leaf}).State; got != want || !got.Valid() {
			t.Errorf("state %q became %q, want %q", leaf, got, want)
		}
	}
	for leaf, want := range map[check.FailureKind]FailureKind{
		check.FailureInferred: FailureInferred, check.FailureDefinitive: FailureDefinitive, check.FailureTransient: FailureTransient,
		check.FailureBlocked: FailureBlocked, check.FailureDoubt: FailureDoubt,
	} {
		if got := fromCheck(check.Result{Failure: leaf}).Failure; got != want {
			t.Errorf("failure kind %d became %v, want %v", leaf, got, want)
		}
	}
	full := check.Result{State: check.StateTemporary, Reason: "r", Code: 503, FinalURL: "http://x.example/", Permanent: true,
		Kind: "soft_404", ResponseTime: time.Second, RetryAfter: time.Minute, NetworkError: true, Failure: check.FailureBlocked, Detail: "d"}
	got := reflect.ValueOf(fromCheck(full))
	if n, m := got.NumField(), reflect.ValueOf(full).NumField(); n != m {
		t.Fatalf("lms.Result has %d fields, check.Result %d", n, m)
	}
	for i := range got.NumField() {
		if got.Field(i).IsZero() {
			t.Errorf("Result.%s is not carried over", got.Type().Field(i).Name)
		}
	}
}
