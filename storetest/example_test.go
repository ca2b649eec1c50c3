package storetest_test

import (
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/storetest"
)

// A Store implementation proves it keeps the contract with one test.
func ExampleRun() {
	_ = func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) lms.Store { return memstore.New() })
	}
}
