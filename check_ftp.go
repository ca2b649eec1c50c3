package lms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"
)

// ftpChecker checks ftp URLs: it logs in (anonymously, or with the URL's
// credentials), then a file is ok if it exists (MLST or SIZE), a directory
// if it lists. Every connection, control and data, runs under the check's
// deadline, so a stalled server cannot hang a worker. Create it with
// NewFTPChecker.
type ftpChecker struct {
	cfg CheckerConfig
}

// newFTPChecker returns an FTP checker.
func newFTPChecker(cfg CheckerConfig) *ftpChecker { return &ftpChecker{cfg: cfg.withDefaults()} }

// Check implements Checker.
func (c *ftpChecker) Check(ctx context.Context, rawURL string) Result {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	r := c.check(ctx, rawURL)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Code == 0 && r.State.Failing() {
		// The deadline closed the connections under the client's feet.
		r = Result{State: StateTemporary, Reason: fmt.Sprintf("Timeout (no complete answer within %v)", c.cfg.Timeout)}
	}
	r.ResponseTime = time.Since(start)
	return r
}

func (c *ftpChecker) check(ctx context.Context, rawURL string) Result {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Result{State: StateUnavailable, Reason: "Invalid URL: " + plainError(err)}
	}
	if u.Hostname() == "" {
		return Result{State: StateUnavailable, Reason: "Invalid URL: no host"}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "21")
	}
	deadline, _ := ctx.Deadline()
	d := c.cfg.dialer()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, cn := range conns {
			_ = cn.Close()
		}
	})
	defer stop()
	dial := func(network, address string) (net.Conn, error) {
		cn, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		_ = cn.SetDeadline(deadline)
		mu.Lock()
		conns = append(conns, cn)
		mu.Unlock()
		return cn, nil
	}
	conn, err := ftp.Dial(addr, ftp.DialWithDialFunc(dial), ftp.DialWithContext(ctx))
	if err != nil {
		return ftpResult(err, c.cfg)
	}
	defer func() { _ = conn.Quit() }()
	user, pass := "anonymous", "lms@"
	if u.User != nil {
		user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			pass = p
		}
	}
	if err := conn.Login(user, pass); err != nil {
		return ftpResult(err, c.cfg)
	}
	path := u.Path
	if path == "" || strings.HasSuffix(path, "/") {
		return ftpList(conn, path, c.cfg)
	}
	// MLST says what the path is without a data connection.
	if e, err := conn.GetEntry(path); err == nil {
		if e.Type == ftp.EntryTypeFolder {
			return ftpList(conn, path, c.cfg)
		}
		return Result{State: StateOK, Reason: "File exists", Code: ftp.StatusRequestedFileActionOK}
	} else if code := ftpCode(err); code != ftp.StatusNotImplemented && code != ftp.StatusBadCommand && code != ftp.StatusCommandNotImplemented && code != 0 && code != ftp.StatusFileUnavailable {
		return ftpResult(err, c.cfg)
	}
	if _, err := conn.FileSize(path); err == nil {
		return Result{State: StateOK, Reason: "File exists", Code: ftp.StatusFile}
	}
	// Not a file (or SIZE unsupported): a directory lists.
	return ftpList(conn, path, c.cfg)
}

func ftpList(conn *ftp.ServerConn, path string, cfg CheckerConfig) Result {
	if path != "" && path != "/" {
		if err := conn.ChangeDir(path); err != nil {
			return ftpResult(err, cfg)
		}
	}
	if _, err := conn.List(""); err != nil {
		return ftpResult(err, cfg)
	}
	return Result{State: StateOK, Reason: "Directory lists", Code: ftp.StatusClosingDataConnection}
}

func ftpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func ftpResult(err error, cfg CheckerConfig) Result {
	code := ftpCode(err)
	switch {
	case code >= 400 && code < 500:
		return Result{State: StateTemporary, Reason: fmt.Sprintf("FTP %d: %s", code, firstLine(err)), Code: code}
	case code >= 500:
		return Result{State: StateUnavailable, Reason: fmt.Sprintf("FTP %d: %s", code, firstLine(err)), Code: code}
	}
	return classifyNetError(err, cfg)
}

func firstLine(err error) string {
	var te *textproto.Error
	s := err.Error()
	if errors.As(err, &te) {
		s = te.Msg
	}
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// checkMailto checks a mailto: URL by syntax only: every address before the
// '?' must parse. It makes no connection.
func checkMailto(_ context.Context, rawURL string) Result {
	bad := Result{State: StateUnavailable, Reason: "No valid email address"}
	_, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return bad
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, err := url.PathUnescape(rest)
	if err != nil || strings.TrimSpace(rest) == "" {
		return bad
	}
	for _, a := range strings.Split(rest, ",") {
		addr, err := mail.ParseAddress(strings.TrimSpace(a))
		if err != nil {
			return bad
		}
		_, domain, _ := strings.Cut(addr.Address, "@")
		if domain == "" || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
			return bad
		}
	}
	return Result{State: StateOK, Reason: "Valid email address"}
}
