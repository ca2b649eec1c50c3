package check

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linkmonitor/lms/internal/browser"
	"github.com/linkmonitor/lms/internal/netguard"
)

// failClass is a class of failure below the protocol's status codes. The
// one table, failTable, maps each class to the state it reports, how it is
// confirmed, and the reason an editor reads. Go's error text never becomes a
// reason (it goes to Result.Detail).
type failClass uint8

// The failure classes. failProtocol and failConnection are what is left
// when nothing more precise is known.
const (
	failNone failClass = iota
	failInvalidURL
	failPolicy
	failCancelled
	failDNSNotFound
	failDNSTemporary
	failRefused
	failUnreachable
	failConnectTimeout
	failTimeout
	failFTPTimeout
	failNoAnswer
	failReset
	failDropped
	failBodyCut
	failNotHTTP
	failSwitched
	failProtocol
	failHeadersTooLarge
	failBadEncoding
	failTooManyRedirects
	failRedirectLoop
	failRedirectScheme
	failBadRedirect
	failTLSNotTLS
	failTLSHandshake
	failTLSTimeout
	failTLSExpired
	failTLSNotYetValid
	failTLSWrongHost
	failTLSSelfSigned
	failTLSUnknownIssuer
	failTLSInvalid
	failFTPNotFTP
	failTooMuchData
	failConnection
	numFailClasses
)

// failInfo is one row of the table. The reason may contain {host} (the
// link's host name), {timeout} (Config.Timeout), {connect}
// (Config.ConnectTimeout) and {max} (Config.MaxRedirects).
type failInfo struct {
	state   State
	kind    FailureKind
	network bool // below the protocol: the "is it us?" guard watches it
	reason  string
}

// failTable is the one table from failure class to state and reason (a
// fresh array each call: there is no package-level state to modify).
func failTable() [numFailClasses]failInfo {
	return [numFailClasses]failInfo{
		failInvalidURL:       {StateUnavailable, FailureDefinitive, false, "The link is not a valid address"},
		failPolicy:           {StateUnsupported, FailureInferred, false, ReasonPolicy},
		failCancelled:        {StateUnknown, FailureInferred, false, "The check was cancelled"},
		failDNSNotFound:      {StateUnavailable, FailureDefinitive, true, "The server name {host} does not exist"},
		failDNSTemporary:     {StateTemporary, FailureTransient, true, "The server name {host} could not be looked up (the name service did not answer)"},
		failRefused:          {StateTemporary, FailureTransient, true, "The server refused the connection"},
		failUnreachable:      {StateTemporary, FailureTransient, true, "The server cannot be reached (no route to it)"},
		failConnectTimeout:   {StateTemporary, FailureTransient, true, "The server did not accept a connection within {connect}"},
		failTimeout:          {StateTemporary, FailureTransient, false, "The page took longer than {timeout}"},
		failFTPTimeout:       {StateTemporary, FailureTransient, false, "The FTP server took longer than {timeout} to answer"},
		failNoAnswer:         {StateTemporary, FailureTransient, false, "The server closed the connection without answering"},
		failReset:            {StateTemporary, FailureTransient, false, "The server broke off the connection"},
		failDropped:          {StateTemporary, FailureTransient, false, "The server broke off its answer in the middle"},
		failBodyCut:          {StateTemporary, FailureTransient, false, "The page was cut off before it was complete"},
		failNotHTTP:          {StateUnavailable, FailureDefinitive, false, "The server's answer is not a web page (not HTTP)"},
		failSwitched:         {StateUnavailable, FailureDefinitive, false, "The server's answer is not a web page (it switched to another protocol)"},
		failProtocol:         {StateUnavailable, FailureDefinitive, false, "The server's answer could not be understood"},
		failHeadersTooLarge:  {StateUnavailable, FailureDefinitive, false, "The server's answer has far too many or too large headers"},
		failBadEncoding:      {StateUnavailable, FailureDefinitive, false, "The server sent a garbled (badly compressed) page"},
		failTooManyRedirects: {StateUnavailable, FailureDefinitive, false, "The link redirects more than {max} times"},
		failRedirectLoop:     {StateUnavailable, FailureDefinitive, false, "The link redirects in a loop"},
		failRedirectScheme:   {StateUnavailable, FailureDefinitive, false, "The link redirects to an address that is not a web page"},
		failBadRedirect:      {StateUnavailable, FailureDefinitive, false, "The link redirects to an invalid address"},
		failTLSNotTLS:        {StateUnavailable, FailureDefinitive, false, "The server does not offer a secure connection (HTTPS) at this address"},
		failTLSHandshake:     {StateUnavailable, FailureDefinitive, false, "The secure connection to the server failed"},
		failTLSTimeout:       {StateTemporary, FailureTransient, true, "The secure connection (HTTPS) to the server was not set up within {connect}"},
		failTLSExpired:       {StateUnavailable, FailureDefinitive, false, "The site's certificate has expired"},
		failTLSNotYetValid:   {StateUnavailable, FailureDefinitive, false, "The site's certificate is not valid yet"},
		failTLSWrongHost:     {StateUnavailable, FailureDefinitive, false, "The site's certificate belongs to a different site"},
		failTLSSelfSigned:    {StateUnavailable, FailureDefinitive, false, "The site's certificate is self-signed and not trusted by browsers"},
		failTLSUnknownIssuer: {StateUnavailable, FailureDefinitive, false, "The site's certificate is not trusted (unknown issuer)"},
		failTLSInvalid:       {StateUnavailable, FailureDefinitive, false, "The site's certificate is invalid"},
		failFTPNotFTP:        {StateUnavailable, FailureDefinitive, false, "The server does not speak FTP"},
		failTooMuchData:      {StateUnavailable, FailureDefinitive, false, "The server sent far more data than a valid answer has"},
		failConnection:       {StateTemporary, FailureTransient, false, "The connection to the server failed"},
	}
}

// result returns the Result of class cl for a check of host; err, if any,
// becomes the Detail.
func (cl failClass) result(cfg Config, host string, err error) Result {
	fi := failTable()[cl]
	reason := strings.NewReplacer(
		"{host}", host,
		"{timeout}", plainDuration(cfg.Timeout),
		"{connect}", plainDuration(cfg.ConnectTimeout),
		"{max}", strconv.Itoa(cfg.MaxRedirects),
	).Replace(fi.reason)
	r := Result{State: fi.state, Reason: reason, Failure: fi.kind, NetworkError: fi.network}
	if err != nil {
		r.Detail = detail(err)
	}
	return r
}

// detail returns err's text, cut to a length fit for a log line.
func detail(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// plainDuration writes d the way people do: "30 s", "1.5 s", "2 min".
func plainDuration(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	}
	return strconv.Itoa(int(d/time.Millisecond)) + " ms"
}

// Sentinel errors of the built-in checkers, each classified by classify.
var (
	errTooManyRedirects = errors.New("too many redirects")
	errRedirectLoop     = errors.New("redirect loop")
	errRedirectScheme   = errors.New("redirect to a scheme other than http or https")
	errBadRedirect      = errors.New("redirect to an invalid URL")
	errNotHTTP          = browser.ErrNotHTTP
	errMalformed        = errors.New("the HTTP answer is malformed")
	errSwitched         = errors.New("101 Switching Protocols to a request that asked for no upgrade")
	errHeadTooLarge     = browser.ErrHeadTooLarge
	errTooMuchData      = browser.ErrTooMuchData
	errNotFTP           = browser.ErrNotFTP
	errBodyCut          = errors.New("body shorter than announced")
	errTLSHandshake     = browser.ErrTLSHandshake
	errTLSTimeout       = browser.ErrTLSTimeout
)

// classify maps an error of a check to its class.
func classify(err error) failClass {
	var (
		dnsErr  *net.DNSError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		insec   x509.InsecureAlgorithmError
		constr  x509.ConstraintViolationError
		roots   x509.SystemRootsError
		corrupt flate.CorruptInputError
		proto   textproto.ProtocolError
		opErr   *net.OpError
		addrErr *net.AddrError
	)
	switch {
	case err == nil:
		return failNone
	case errors.Is(err, netguard.ErrPolicy):
		return failPolicy
	case errors.As(err, &addrErr):
		return failInvalidURL
	case errors.Is(err, errTooManyRedirects):
		return failTooManyRedirects
	case errors.Is(err, errRedirectLoop):
		return failRedirectLoop
	case errors.Is(err, errRedirectScheme):
		return failRedirectScheme
	case errors.Is(err, errBadRedirect):
		return failBadRedirect
	case errors.Is(err, errTLSTimeout):
		return failTLSTimeout
	case errors.Is(err, errNotHTTP):
		return failNotHTTP
	case errors.Is(err, errSwitched):
		return failSwitched
	case errors.Is(err, errMalformed):
		return failProtocol
	case errors.Is(err, errHeadTooLarge):
		return failHeadersTooLarge
	case errors.Is(err, errTooMuchData):
		return failTooMuchData
	case errors.Is(err, errNotFTP):
		return failFTPNotFTP
	case errors.Is(err, errBodyCut):
		return failBodyCut
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return failDNSNotFound
		}
		return failDNSTemporary
	case errors.As(err, &unknown):
		if c := unknown.Cert; c != nil && !c.IsCA && bytes.Equal(c.RawIssuer, c.RawSubject) &&
			c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return failTLSSelfSigned
		}
		return failTLSUnknownIssuer
	case errors.As(err, &host):
		return failTLSWrongHost
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			if c := invalid.Cert; c != nil && time.Now().Before(c.NotBefore) {
				return failTLSNotYetValid
			}
			return failTLSExpired
		}
		return failTLSInvalid
	case errors.As(err, &insec), errors.As(err, &constr), errors.As(err, &roots), errors.As(err, &verify):
		return failTLSInvalid
	case errors.As(err, &record):
		return failTLSNotTLS
	case errors.As(err, &alert):
		return failTLSHandshake
	case errors.Is(err, syscall.ECONNREFUSED):
		return failRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return failUnreachable
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return failConnectTimeout
		}
		return failTimeout
	case errors.Is(err, context.Canceled):
		return failCancelled
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return failReset
	case errors.Is(err, io.ErrUnexpectedEOF):
		return failDropped
	case errors.Is(err, io.EOF):
		return failNoAnswer
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, zlib.ErrHeader),
		errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrDictionary), errors.As(err, &corrupt):
		return failBadEncoding
	case errors.Is(err, errTLSHandshake):
		return failTLSHandshake // version, cipher or protocol trouble
	case errors.As(err, &proto):
		return failProtocol
	}
	return failConnection
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusReason is the reason of an HTTP status: its standard phrase
// ("Not Found"), whatever phrase the server sent.
func statusReason(code int) string {
	if s := http.StatusText(code); s != "" {
		return s
	}
	return "HTTP status " + strconv.Itoa(code)
}

// reasonBlocked is the reason of a link whose site turns away automated
// checks; how is the vendor or the status ("Cloudflare challenge", "HTTP
// status 999").
func reasonBlocked(how string) string {
	return "The site blocks automated checks (" + how + ")"
}

// reasonBrowserOK is the reason of a link that worked only for the
// browser-like retry.
func reasonBrowserOK(code int) string {
	return statusReason(code) + " (the site blocks automated checks, but a browser-like request got through)"
}

// ftpReason is the reason of an FTP reply code.
func ftpReason(code int) string {
	var s string
	switch {
	case code == 421:
		s = "The FTP server is busy or shutting down"
	case code == 425, code == 426:
		s = "The FTP server could not open a data connection"
	case code == 430, code == 530, code == 332:
		s = "The FTP server refused the login"
	case code == 450, code == 451, code == 452:
		s = "The file is not accessible right now"
	case code == 550:
		s = "The file or directory does not exist"
	case code == 551, code == 553:
		s = "The file name is not allowed"
	case code >= 400 && code < 500:
		s = "The FTP server is not available right now"
	default:
		s = "The FTP server refused the request"
	}
	return s + " (FTP " + strconv.Itoa(code) + ")"
}
