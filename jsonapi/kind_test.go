package jsonapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// TestLinkKind: a link that answers but is gone carries the machine-readable
// kind of what the checker found, with failing_since and the failed checks
// in a row; a link that recovers has neither (every store).
func TestLinkKind(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), guard.Config{})
			me := bearer(e.newClient("kinds"))
			const parked = "https://parked.example/article"
			e.do("PUT", "/api/v1/links", me, map[string]any{"urls": []string{parked}}).want(t, 200)
			now := time.Now()
			rec := func(r lms.Result, failures int) {
				t.Helper()
				if err := e.store.RecordResults(context.Background(), []lms.Outcome{{URL: parked, Result: r, Failures: failures, Checked: now, NextDue: now.Add(time.Hour)}}); err != nil {
					t.Fatal(err)
				}
			}
			rec(lms.Result{State: lms.StateUnavailable, Reason: "The domain is parked or for sale", Code: 200, Kind: "parked"}, 2)
			var got struct {
				Links []struct {
					Kind         *string `json:"kind"`
					FailedChecks int     `json:"failed_checks"`
					FailingSince *string `json:"failing_since"`
				} `json:"links"`
			}
			e.do("POST", "/api/v1/links/query", me, map[string]any{"urls": []string{parked}}).want(t, 200).json(t, &got)
			if len(got.Links) != 1 || got.Links[0].Kind == nil || *got.Links[0].Kind != "parked" || got.Links[0].FailedChecks != 2 || got.Links[0].FailingSince == nil {
				t.Fatalf("the parked link: %+v", got.Links)
			}
			rec(lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}, 0)
			e.do("POST", "/api/v1/links/query", me, map[string]any{"urls": []string{parked}}).want(t, 200).json(t, &got)
			if len(got.Links) != 1 || got.Links[0].Kind != nil || got.Links[0].FailedChecks != 0 || got.Links[0].FailingSince != nil {
				t.Fatalf("the recovered link: %+v", got.Links)
			}
		})
	}
}
