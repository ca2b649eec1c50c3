package token

import (
	"strings"
	"testing"
)

func TestTokenNamesItsClient(t *testing.T) {
	t.Parallel()
	tok := New("site/ä")
	if id, ok := Client(tok); !ok || id != "site/ä" {
		t.Fatalf("Client(%q) = %q, %v", tok, id, ok)
	}
	if New("site/ä") == tok {
		t.Error("two tokens alike")
	}
	if h := Hash(tok); !strings.HasPrefix(h, "sha256:") || len(h) != 7+64 || h != Hash(tok) {
		t.Errorf("Hash = %q", h)
	}
	for _, bad := range []string{"", "lmst_", "lmst_c2l0ZQ", "lmst_c2l0ZQ.short", "xxxx_" + tok[5:], "lmst_!!." + tok[len(tok)-43:], "lmst_." + tok[len(tok)-43:]} {
		if _, ok := Client(bad); ok {
			t.Errorf("Client(%q) accepted", bad)
		}
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"ci": true, "a.b_c-D9": true, "": false, strings.Repeat("x", 64): true, strings.Repeat("x", 65): false, "a b": false, "a/b": false, "ä": false} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}
