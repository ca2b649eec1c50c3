package check

import (
	"context"
	"errors"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/linkmonitor/lms/internal/browser"
)

// FTP checks ftp URLs: it logs in (anonymously, or with the URL's
// credentials), then a file is ok if it exists (MLST or SIZE), a directory
// if the server lets the client change into it (CWD). It never opens a data
// connection, so no listing is ever read. Every connection runs under the
// check's deadline, so a stalled server cannot hang a worker, and reads
// through a cap on bytes, lines and line length (browser.CapConn), so an
// endless banner or reply ends the check with a plain reason instead of
// growing the process. Nothing is decoded: the bytes capped are the bytes
// read from the wire, Config.MaxBytes of them for the whole check.
type FTP struct {
	cfg Config
}

// Bounds of an FTP check besides Config.MaxBytes.
const (
	maxFTPLines    = 1000    // lines of banner and replies
	maxFTPLineSize = 8 << 10 // one line
)

// NewFTP returns an FTP checker.
func NewFTP(cfg Config) *FTP { return &FTP{cfg: cfg} }

// Check checks rawURL. An FTP check makes one request: it has nothing to
// pace.
func (c *FTP) Check(ctx context.Context, rawURL string) Result {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	r := c.check(ctx, rawURL)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Code == 0 && r.State.Failing() {
		// The deadline closed the connections under the client's feet.
		r = failFTPTimeout.result(c.cfg, "", ctx.Err())
	}
	r.ResponseTime = time.Since(start)
	return r
}

func (c *FTP) check(ctx context.Context, rawURL string) Result {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" || !browser.ValidPort(u.Port()) {
		if err == nil {
			err = errors.New("no host or bad port")
		}
		return failInvalidURL.result(c.cfg, "", err)
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
	budget := browser.NewReadBudget(c.cfg.MaxBytes, maxFTPLines)
	dial := func(network, address string) (net.Conn, error) {
		cn, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		_ = cn.SetDeadline(deadline)
		mu.Lock()
		control := len(conns) == 0
		conns = append(conns, cn)
		mu.Unlock()
		return browser.CapConn(cn, budget, maxFTPLineSize, control), nil
	}
	fail := func(err error) Result { return ftpResult(err, c.cfg, u.Hostname()) }
	// Only the control connection is dialled: the check opens no data
	// connection.
	conn, err := ftp.Dial(addr, ftp.DialWithDialFunc(dial), ftp.DialWithContext(ctx))
	if err != nil {
		return fail(err)
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
		return fail(err)
	}
	path := u.Path
	if path == "" || strings.HasSuffix(path, "/") {
		return ftpDir(conn, path, fail)
	}
	// MLST says what the path is without a data connection.
	if e, err := conn.GetEntry(path); err == nil {
		if e.Type == ftp.EntryTypeFolder {
			return ftpDir(conn, path, fail)
		}
		return Result{State: StateOK, Reason: "File exists", Code: ftp.StatusRequestedFileActionOK}
	} else if !ftpTryNext(err) {
		return fail(err)
	}
	if _, err := conn.FileSize(path); err == nil {
		return Result{State: StateOK, Reason: "File exists", Code: ftp.StatusFile}
	} else if !ftpTryNext(err) {
		return fail(err)
	}
	// Not a file (or SIZE unsupported): a directory the client may enter.
	return ftpDir(conn, path, fail)
}

// ftpDir checks a directory by changing into it: no listing is read.
func ftpDir(conn *ftp.ServerConn, path string, fail func(error) Result) Result {
	if path == "" {
		path = "/"
	}
	if err := conn.ChangeDir(path); err != nil {
		return fail(err)
	}
	return Result{State: StateOK, Reason: "Directory exists", Code: ftp.StatusRequestedFileActionOK}
}

// ftpTryNext reports whether a failed MLST or SIZE leaves the path to the
// next way of asking: the command is not supported, or the path is no file.
func ftpTryNext(err error) bool {
	switch ftpCode(err) {
	case ftp.StatusCommandNotImplemented, ftp.StatusBadCommand, ftp.StatusBadArguments, ftp.StatusNotImplemented,
		ftp.StatusNotImplementedParameter, ftp.StatusFileUnavailable:
		return true
	case 0:
		cl := classify(err) // a reply the library could not parse
		return cl == failConnection || cl == failProtocol
	}
	return false
}

func ftpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// ftpResult maps an FTP failure to a Result: 4xx replies may pass, 5xx are
// definitive; everything else goes through the failure table.
func ftpResult(err error, cfg Config, host string) Result {
	code := ftpCode(err)
	switch {
	case code >= 400 && code < 500:
		return Result{State: StateTemporary, Failure: FailureTransient, Reason: ftpReason(code), Code: code, Detail: detail(err)}
	case code >= 500:
		return Result{State: StateUnavailable, Failure: FailureDefinitive, Reason: ftpReason(code), Code: code, Detail: detail(err)}
	}
	cl := classify(err)
	switch cl {
	case failTimeout:
		cl = failFTPTimeout
	case failProtocol, failNotHTTP: // a reply textproto could not parse
		cl = failFTPNotFTP
	}
	return cl.result(cfg, host, err)
}
