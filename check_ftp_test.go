package lms_test

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// ftpDriver serves an in-memory tree; user "bob" with password "secret" and
// anonymous logins are accepted.
type ftpDriver struct {
	fs       afero.Fs
	listener net.Listener
	noMLST   bool
}

func (d *ftpDriver) GetSettings() (*ftpserver.Settings, error) {
	return &ftpserver.Settings{Listener: d.listener, ConnectionTimeout: 2, IdleTimeout: 5, DisableMLST: d.noMLST, DisableMLSD: d.noMLST}, nil
}
func (d *ftpDriver) ClientConnected(ftpserver.ClientContext) (string, error) { return "lms test", nil }
func (d *ftpDriver) ClientDisconnected(ftpserver.ClientContext)              {}
func (d *ftpDriver) AuthUser(_ ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	if user == "anonymous" || (user == "bob" && pass == "secret") {
		return d.fs, nil
	}
	return nil, errors.New("bad credentials")
}
func (d *ftpDriver) GetTLSConfig() (*tls.Config, error) { return nil, errors.New("no TLS") }

func ftpServer(t *testing.T, mlst bool) string {
	t.Helper()
	fs := afero.NewMemMapFs()
	require.NoError(t, fs.MkdirAll("/pub/dir", 0o755))
	require.NoError(t, afero.WriteFile(fs, "/pub/file.txt", []byte("hello"), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := ftpserver.NewFtpServer(&ftpDriver{fs: fs, listener: l, noMLST: !mlst})
	require.NoError(t, srv.Listen())
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { _ = srv.Stop() })
	return l.Addr().String()
}

func TestFTP(t *testing.T) {
	t.Parallel()
	for _, mlst := range []bool{true, false} {
		addr := ftpServer(t, mlst)
		testFTP(t, addr)
	}
}

func testFTP(t *testing.T, addr string) {
	cases := []struct {
		path  string
		state lms.State
	}{
		{"/pub/file.txt", lms.StateOK},
		{"/pub/dir", lms.StateOK},
		{"/pub/dir/", lms.StateOK},
		{"/", lms.StateOK},
		{"", lms.StateOK},
		{"/pub/missing.txt", lms.StateUnavailable},
		{"/nope/", lms.StateUnavailable},
	}
	for _, tc := range cases {
		r := check(t, private(), "ftp://"+addr+tc.path)
		require.Equal(t, tc.state, r.State, "%s: %s", tc.path, r.Reason)
		require.NotEmpty(t, r.Reason)
	}
	r := check(t, private(), "ftp://bob:secret@"+addr+"/pub/file.txt")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	r = check(t, private(), "ftp://bob:wrong@"+addr+"/pub/file.txt")
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Equal(t, 530, r.Code)
}

func TestFTPStalledServer(t *testing.T) {
	// Not parallel: its sub-second timeouts are measured in real time.
	done := make(chan struct{}) // the servers hold their connections until the test ends
	// Greets, then never answers a command.
	stalled := rawServer(t, func(c net.Conn) {
		_, _ = c.Write([]byte("220 hello\r\n"))
		<-done
	})
	// Never even greets.
	mute := rawServer(t, func(c net.Conn) { <-done })
	t.Cleanup(func() { close(done) })
	cfg := private()
	cfg.Timeout = 400 * time.Millisecond
	for _, a := range []string{stalled, mute} {
		start := time.Now()
		r := check(t, cfg, "ftp://"+a+"/file")
		require.Less(t, time.Since(start), 2*time.Second, "a stalled FTP server must not hang the worker")
		require.Equal(t, lms.StateTemporary, r.State, r.Reason)
	}
	// 4xx replies are temporary.
	busy := rawServer(t, func(c net.Conn) { _, _ = c.Write([]byte("421 Too many users, try later\r\n")) })
	r := check(t, cfg, "ftp://"+busy+"/file")
	require.Equal(t, lms.StateTemporary, r.State, r.Reason)
	require.Equal(t, 421, r.Code)
}
