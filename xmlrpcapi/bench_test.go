package xmlrpcapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/apibench"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// BenchmarkRegisterURLs measures registerURLs through the XML-RPC handler
// over real HTTP: 50 concurrent clients, batches of 100 and 1,000 fresh URLs,
// on memstore and boltstore. It reports URLs per second and the p99 latency
// of one call.
func BenchmarkRegisterURLs(b *testing.B) {
	stores := map[string]func(b *testing.B) lms.Store{
		"memstore": func(*testing.B) lms.Store { return memstore.New() },
		"boltstore": func(b *testing.B) lms.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"memstore", "boltstore"} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				benchRegister(b, stores[name](b), batch)
			})
		}
	}
}

func benchRegister(b *testing.B, st lms.Store, batch int) {
	defer st.Close()
	e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker})
	if err != nil {
		b.Fatal(err)
	}
	clients := make([]apibench.Client, 50)
	for c := range clients {
		clients[c].ID = fmt.Sprintf("c%02d", c)
		if clients[c].Password, err = e.RegisterClient(context.Background(), secret, lms.Registration{ID: clients[c].ID, ContactEmail: "a@example.org", CallbackURL: "http://example.org/"}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	defer srv.Close()
	apibench.RegisterURLs(b, srv.URL+"/RPC2", clients, batch)
}
