package browser

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
)

// ErrNotHTTP is an answer whose first line is no HTTP status line.
var ErrNotHTTP = errors.New("the answer is not HTTP")

// ErrHeadTooLarge is a response head longer than the reader allows.
var ErrHeadTooLarge = errors.New("response head too large")

// lenientConn is the connection of the tolerant second try at a response
// head that Go's parser refused: it repairs the head of the one response
// the connection carries the way browsers read it, and passes the body
// through untouched.
//
//   - The status line must start with "HTTP/" and a three-digit code
//     (anything else, such as an SSH banner, is ErrNotHTTP); a missing
//     space ("200OK") and odd versions are repaired.
//   - Header lines without a colon or with a name that is not a token are
//     dropped; control characters are removed from values; a
//     Content-Length that is not a number is dropped (the body then lasts
//     until the server closes). A folded line before any header is dropped.
//   - The head is at most max bytes (ErrHeadTooLarge).
//
// Strictness browsers share stays: two different Content-Length headers
// still fail in Go's parser, as they fail in Chrome, and such an answer is
// left to the caller to report as malformed, not as an answer that is not
// HTTP.
type lenientConn struct {
	net.Conn
	br      *bufio.Reader
	out     []byte // repaired head bytes not yet read
	state   int    // 0 status line, 1 headers, 2 body
	left    int64  // head bytes still allowed
	started bool   // a header line was passed on
}

// NewLenientConn returns c reading the head of the one response it carries
// tolerantly (see lenientConn), at most max bytes of it.
func NewLenientConn(c net.Conn, max int64) net.Conn {
	return &lenientConn{Conn: c, br: bufio.NewReaderSize(c, 4<<10), left: max}
}

// Read implements net.Conn.
func (c *lenientConn) Read(p []byte) (int, error) {
	for c.state < 2 && len(c.out) == 0 {
		if err := c.step(); err != nil {
			return 0, err
		}
	}
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	return c.br.Read(p)
}

// line reads one line of the head, at most c.left bytes.
func (c *lenientConn) line() ([]byte, error) {
	var line []byte
	for {
		frag, err := c.br.ReadSlice('\n')
		c.left -= int64(len(frag))
		if c.left < 0 {
			return nil, ErrHeadTooLarge
		}
		line = append(line, frag...)
		if c.state == 0 && len(line) >= 5 && !bytes.EqualFold(line[:5], []byte("HTTP/")) {
			return nil, ErrNotHTTP
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && c.state == 0 && len(line) > 0:
			return nil, ErrNotHTTP // a few bytes that are no status line
		case errors.Is(err, io.EOF) && c.state > 0:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}

func (c *lenientConn) step() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	if c.state == 0 {
		status, ok := repairStatusLine(line)
		if !ok {
			return ErrNotHTTP
		}
		c.out = append(c.out, status...)
		c.state = 1
		return nil
	}
	if len(line) == 0 {
		c.out = append(c.out, "\r\n"...)
		c.state = 2
		return nil
	}
	if line[0] == ' ' || line[0] == '\t' {
		if c.started {
			c.out = append(append(c.out, cleanValue(line)...), "\r\n"...)
		}
		return nil
	}
	if h, ok := repairHeaderLine(line); ok {
		c.out = append(append(c.out, h...), "\r\n"...)
		c.started = true
	}
	return nil
}

// repairStatusLine returns line as a status line Go parses: "HTTP/1.x
// CODE reason", or false if line is not an HTTP status line.
func repairStatusLine(line []byte) ([]byte, bool) {
	if len(line) < 5 || !bytes.EqualFold(line[:5], []byte("HTTP/")) {
		return nil, false
	}
	rest := line[5:]
	i := 0
	for i < len(rest) && (rest[i] == '.' || '0' <= rest[i] && rest[i] <= '9') {
		i++
	}
	version := "1.1"
	if string(rest[:i]) == "1.0" {
		version = "1.0"
	}
	rest = bytes.TrimLeft(rest[i:], " \t")
	if len(rest) < 3 {
		return nil, false
	}
	for _, d := range rest[:3] {
		if d < '0' || d > '9' {
			return nil, false
		}
	}
	code, _ := strconv.Atoi(string(rest[:3]))
	if code < 100 {
		return nil, false
	}
	reason := cleanValue(bytes.TrimSpace(rest[3:]))
	out := append([]byte("HTTP/"+version+" "), rest[:3]...)
	out = append(append(append(out, ' '), reason...), "\r\n"...)
	return out, true
}

// repairHeaderLine returns line as "Name: value" with a token name and a
// value without control characters, or false to drop the line.
func repairHeaderLine(line []byte) ([]byte, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return nil, false
	}
	for _, b := range name {
		if !tokenByte(b) {
			return nil, false
		}
	}
	value := cleanValue(bytes.TrimSpace(line[i+1:]))
	if bytes.EqualFold(name, []byte("Content-Length")) {
		if _, err := strconv.ParseUint(string(value), 10, 63); err != nil {
			return nil, false
		}
	}
	out := append(append([]byte(nil), name...), ": "...)
	return append(out, value...), true
}

// cleanValue drops the control characters (but tabs) from v.
func cleanValue(v []byte) []byte {
	out := v[:0:0]
	for _, b := range v {
		if b >= 0x20 && b != 0x7f || b == '\t' {
			out = append(out, b)
		}
	}
	return out
}

// tokenByte reports whether b may appear in a header name (RFC 9110 token).
func tokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return b != 0 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
}
