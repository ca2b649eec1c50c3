package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/throttle"
)

// countingStore is a one-process lms.ThrottleStore: a count of reserved
// failures per key, at most Burst, none earned back.
type countingStore struct {
	used    map[string]int
	settled []bool
}

func (s *countingStore) ReserveFailures(_ context.Context, keys []lms.ThrottleKey) (bool, error) {
	for _, k := range keys {
		if s.used[k.Key] >= k.Burst {
			return false, nil
		}
	}
	for _, k := range keys {
		s.used[k.Key]++
	}
	return true, nil
}

func (s *countingStore) SettleFailures(_ context.Context, keys []lms.ThrottleKey, failed bool) error {
	s.settled = append(s.settled, failed)
	if !failed {
		for _, k := range keys {
			s.used[k.Key]--
		}
	}
	return nil
}

func TestShared(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{used: map[string]int{}}
	sh := throttle.NewShared(st)
	id := throttle.Config{Burst: 2, Every: time.Hour}.Key("client\x00c")
	if id.Burst != 2 || id.Every != time.Hour {
		t.Fatalf("Key = %+v", id)
	}
	if def := (throttle.Config{}).Key("x"); def.Burst != 10 || def.Every != 6*time.Second {
		t.Errorf("Key with the defaults = %+v, want burst 10, every 6s", def)
	}
	t1, ok, err := sh.Reserve(ctx, id)
	if !ok || err != nil {
		t.Fatalf("first Reserve: %v, %v", ok, err)
	}
	t2, ok, _ := sh.Reserve(ctx, id)
	if !ok {
		t.Fatal("second Reserve refused")
	}
	if _, ok, _ := sh.Reserve(ctx, id); ok {
		t.Fatal("a third reservation with burst 2 passed")
	}
	// A good attempt gives its failure back, once however often settled.
	for range 3 {
		if err := t1.Settle(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := t2.Settle(ctx, true); err != nil {
		t.Fatal(err)
	}
	if len(st.settled) != 2 || st.used[id.Key] != 1 {
		t.Errorf("settled %v, used %d; want two settlements and one failure kept", st.settled, st.used[id.Key])
	}
	var none *throttle.SharedTicket
	if err := none.Settle(ctx, true); err != nil {
		t.Error(err)
	}
}
