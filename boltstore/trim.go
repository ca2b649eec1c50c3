package boltstore

import (
	"sync"
	"time"
)

// trimmer keeps the file-backed resident memory under max (see
// Options.MaxResident).
type trimmer struct {
	path string
	max  int64
	mu   sync.Mutex // one trim at a time
}

// check trims when the bound is exceeded (reading statm costs
// microseconds). It returns the resident size it saw and whether it
// trimmed.
func (tr *trimmer) check() (resident int64, trimmed bool) {
	if tr == nil {
		return 0, false
	}
	r := fileResident()
	if r > tr.max && tr.mu.TryLock() {
		defer tr.mu.Unlock()
		trimResident(tr.path)
		return r, true
	}
	return r, false
}

// trimLoop checks every 5 ms while the file is being paged in, every 100 ms
// while it is quiet.
func (s *Store) trimLoop() {
	defer close(s.done)
	if s.trim == nil {
		<-s.stop
		return
	}
	t := time.NewTimer(5 * time.Millisecond)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			r, trimmed := s.trim.check()
			if trimmed || r > last+1<<20 {
				t.Reset(5 * time.Millisecond)
			} else {
				t.Reset(100 * time.Millisecond)
			}
			last = r
			if trimmed {
				last = 0
			}
		}
	}
}
