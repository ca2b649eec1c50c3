package lmsdproc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/xmlrpcapi"
)

func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, params, err := xmlrpcapi.DecodeCall(r.Body, xmlrpcapi.Limits{})
		switch {
		case err != nil || r.Header.Get("Content-Type") != "text/xml":
			http.Error(w, "bad call", http.StatusBadRequest)
		case method == "echo":
			b, _ := xmlrpcapi.EncodeResponse(params)
			_, _ = w.Write(b)
		default:
			_, _ = w.Write(xmlrpcapi.EncodeFault(-32601, "unknown method"))
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	v, err := Call(ctx, nil, srv.URL, "echo", "a", 1)
	require.NoError(t, err)
	require.Equal(t, []any{"a", int64(1)}, v)

	_, err = Call(ctx, srv.Client(), srv.URL, "nope")
	var f *xmlrpcapi.Fault
	require.True(t, errors.As(err, &f), "%v", err)
	require.Equal(t, -32601, f.Code)
	require.ErrorContains(t, err, "nope: ")

	_, err = Post(ctx, nil, srv.URL, []byte("not XML-RPC"))
	require.EqualError(t, err, "HTTP 400")
}

func TestWaitReady(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	_, err := WaitReady(path, 50*time.Millisecond)
	require.ErrorContains(t, err, "within 50ms")

	require.NoError(t, os.WriteFile(path, []byte("127.0.0.1:4242"), 0o644))
	addr, err := WaitReady(path, time.Second)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4242", addr)
}

func TestMailedPassword(t *testing.T) {
	dir := t.TempDir()
	_, err := MailedPassword(dir)
	require.ErrorContains(t, err, "0 registration mails")

	mail := filepath.Join(dir, "1.eml")
	require.NoError(t, os.WriteFile(mail, []byte("Subject: x\n\nClient id:     site\nPassword:      s3cr3t-pw\n"), 0o644))
	pw, err := MailedPassword(dir)
	require.NoError(t, err)
	require.Equal(t, "s3cr3t-pw", pw)

	require.NoError(t, os.WriteFile(mail, []byte("Subject: x\n\nno password here\n"), 0o644))
	_, err = MailedPassword(dir)
	require.ErrorContains(t, err, "no password")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "2.eml"), nil, 0o644))
	_, err = MailedPassword(dir)
	require.ErrorContains(t, err, "2 registration mails")
}
