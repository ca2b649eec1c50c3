package testkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms/memstore"
)

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "%d", i) })
		_ = b.String() // read while written: -race checks
	}
	wg.Wait()
	if got := len(b.String()); got != 4 {
		t.Fatalf("%q: %d bytes, want 4", b.String(), got)
	}
}

func TestSnapshotStore(t *testing.T) {
	ctx := context.Background()
	st := &SnapshotStore{Store: memstore.New()}
	if n, err := st.DueCount(ctx, time.Now(), 10); err != nil || n != 0 {
		t.Fatalf("DueCount = %d, %v", n, err)
	}
	st.Fail.Store(true)
	if _, err := st.DueCount(ctx, time.Now(), 10); !errors.Is(err, ErrDisk) {
		t.Fatalf("failing DueCount: %v", err)
	}
	if n := st.DueCounts.Load(); n != 2 {
		t.Fatalf("DueCounts = %d, want 2", n)
	}
}
