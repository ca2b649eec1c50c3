package stdwebhook_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/linkmonitor/lms/internal/stdwebhook"
)

// The example of the Standard Webhooks specification and its libraries'
// tests.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var specTime = time.Unix(1614265330, 0)

func TestSpecExample(t *testing.T) {
	k, err := stdwebhook.Key(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := stdwebhook.Sign(k, specID, specTime, []byte(specBody)); got != specSig {
		t.Errorf("Sign = %s, want %s", got, specSig)
	}
}

// TestReferenceLibraryAgrees signs with this package and verifies with the
// reference library, for new secrets, several bodies, one and two keys.
func TestReferenceLibraryAgrees(t *testing.T) {
	now := time.Now()
	for i := range 50 {
		s1, s2 := stdwebhook.NewSecret(), stdwebhook.NewSecret()
		if !strings.HasPrefix(s1, "whsec_") || s1 == s2 {
			t.Fatalf("NewSecret = %q, %q", s1, s2)
		}
		k1, _ := stdwebhook.Key(s1)
		k2, _ := stdwebhook.Key(s2)
		if len(k1) != stdwebhook.KeyBytes {
			t.Fatalf("key of %d bytes", len(k1))
		}
		body := bytes.Repeat([]byte(fmt.Sprintf(`{"n":%d,"s":"äö\u2028"}`, i)), i+1)
		h := http.Header{}
		id := stdwebhook.NewID()
		stdwebhook.SetHeaders(h, id, now, body, k1, k2)
		for _, s := range []string{s1, s2} {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("reference library: %v (headers %v)", err, h)
			}
			if err := stdwebhook.Verify(k1, h, body, now, 5*time.Minute); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want, _ := wh.Sign(id, now, body)
			if !strings.Contains(h.Get(stdwebhook.HeaderSignature), want) {
				t.Fatalf("signature %q lacks the reference's %q", h.Get(stdwebhook.HeaderSignature), want)
			}
		}
		other, _ := standardwebhooks.NewWebhook(stdwebhook.NewSecret())
		if err := other.Verify(body, h); err == nil {
			t.Fatal("another secret verified")
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	k, _ := stdwebhook.Key(specSecret)
	now := time.Now()
	h := http.Header{}
	stdwebhook.SetHeaders(h, "msg_1", now, []byte("{}"), k)
	if err := stdwebhook.Verify(k, h, []byte("{} "), now, time.Minute); err == nil {
		t.Error("a changed body verified")
	}
	if err := stdwebhook.Verify(k, h, []byte("{}"), now.Add(10*time.Minute), 5*time.Minute); err == nil {
		t.Error("an old timestamp verified")
	}
	stdwebhook.SetHeaders(h, "msg_1", now, []byte("{}"))
	if h.Get(stdwebhook.HeaderSignature) != "" {
		t.Error("a signature without keys")
	}
	for _, bad := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!"} {
		if _, err := stdwebhook.Key(bad); err == nil {
			t.Errorf("Key(%q) accepted", bad)
		}
	}
}
