package xmlrpcapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// A Server over an in-memory store, on a loopback HTTP server, answering a
// client's checkConnection (a raw POST, as Python's xmlrpclib sends it) and
// a registerURLs call.
func ExampleServer() {
	ctx := context.Background()
	e, err := lms.New(memstore.New(), lms.Config{AdminSecret: "admin-secret", Components: lms.RunChecker})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.RegisterClient(ctx, "admin-secret", lms.Registration{
		ID: "plone", Password: "client-password", ContactEmail: "admin@site.example",
		CallbackURL: "http://site.example/portal_linkchecker/database",
	}); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	defer srv.Close()

	post := func(body string) {
		resp, err := http.Post(srv.URL+"/RPC2", "text/xml", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(resp.StatusCode, strings.TrimPrefix(strings.TrimSpace(string(b)), `<?xml version="1.0" encoding="UTF-8"?>`+"\n"))
	}
	post(`<?xml version='1.0'?>
<methodCall><methodName>checkConnection</methodName><params>
<param><value><string>plone</string></value></param>
<param><value><string>client-password</string></value></param>
</params></methodCall>`)

	// A first registration returns no states: nothing was checked yet.
	call, err := xmlrpcapi.EncodeCall("registerURLs", "plone", "client-password", []string{"http://example.org/", "not a URL"})
	if err != nil {
		log.Fatal(err)
	}
	post(string(call))
	// Output:
	// 200 <methodResponse><params><param><value><int>2</int></value></param></params></methodResponse>
	// 200 <methodResponse><params><param><value><array><data></data></array></value></param></params></methodResponse>
}
