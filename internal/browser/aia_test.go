package browser

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The AIA fetcher's bounds: at most MaxAIAPerCert requests per
// certificate, at most MaxAIAPerVisit per visit, every request paced
// through the visit's hook; what a visit could not fetch for want of
// budget is not held against the certificate.
func TestAIABounds(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(name string) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		for i := range 1400 {
			tmpl.IssuingCertificateURL = append(tmpl.IssuingCertificateURL, fmt.Sprintf("%s/%s/%d.crt", srv.URL, name, i))
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := newAIACache((&net.Dialer{}).DialContext, time.Second, "test")
	var paced, answered atomic.Int64
	pace := func(_ context.Context, rawURL string) (func(), error) {
		paced.Add(1)
		return func() { answered.Add(1) }, nil
	}
	v := NewVisit(1<<20, pace)
	ctx := WithVisit(t.Context(), v)
	a1, a2, a3 := cert("a1"), cert("a2"), cert("a3")
	for _, c := range []*x509.Certificate{a1, a2, a3} {
		if a.issuer(ctx, c) != nil {
			t.Fatal("an issuer found where none is")
		}
	}
	if got.Load() != MaxAIAPerVisit || paced.Load() != MaxAIAPerVisit || answered.Load() != MaxAIAPerVisit {
		t.Errorf("one visit, three certificates: %d requests, %d paced, %d answered; want %d each", got.Load(), paced.Load(), answered.Load(), MaxAIAPerVisit)
	}
	// A new visit: a1 and a2 failed and are cached as failures; a3 was
	// never tried and gets its 5.
	ctx = WithVisit(t.Context(), NewVisit(1<<20, pace))
	for _, c := range []*x509.Certificate{a1, a2, a3} {
		a.issuer(ctx, c)
	}
	if want := int64(MaxAIAPerVisit + MaxAIAPerCert); got.Load() != want {
		t.Errorf("after a second visit: %d requests, want %d", got.Load(), want)
	}
}
