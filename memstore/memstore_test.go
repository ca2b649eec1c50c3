package memstore_test

import (
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lms.Store { return memstore.New() })
}

func TestEditors(t *testing.T) {
	storetest.RunEditors(t, func(t *testing.T, r lms.HistoryRetention) lms.Store {
		return memstore.NewWithOptions(memstore.Options{History: r})
	})
}
