package browser

import (
	"errors"
	"net"
	"sync/atomic"
)

// Errors of a capped connection; every Read after one fails with it again.
var (
	ErrTooMuchData = errors.New("the server sent more than the check reads")
	ErrNotFTP      = errors.New("the answer is not FTP")
)

// ReadBudget is what the connections of one visit may still read, in
// bytes and in lines. It is safe for concurrent use.
type ReadBudget struct {
	bytes atomic.Int64
	lines atomic.Int64
}

// NewReadBudget returns a budget of bytes and lines.
func NewReadBudget(bytes, lines int64) *ReadBudget {
	b := &ReadBudget{}
	b.bytes.Store(bytes)
	b.lines.Store(lines)
	return b
}

// CapConn returns c reading within budget and at most maxLine bytes per
// line, so that an endless banner or reply ends in ErrTooMuchData instead
// of growing the process. With replyCode (an FTP control connection) its
// first three bytes must be digits, else ErrNotFTP.
func CapConn(c net.Conn, budget *ReadBudget, maxLine int, replyCode bool) net.Conn {
	return &cappedConn{Conn: c, budget: budget, maxLine: maxLine, control: replyCode}
}

// cappedConn is a connection that reads within a ReadBudget and at most
// maxLine bytes per line, and (the control connection) whose first line
// must start with a reply code. Beyond, every Read fails: the error must
// stick, because bufio drops an error that comes with data.
type cappedConn struct {
	net.Conn
	budget  *ReadBudget
	maxLine int
	lineLen int
	control bool
	read    int // bytes read so far, for the reply-code test
	err     error
}

// Read implements net.Conn.
func (c *cappedConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	left := c.budget.bytes.Load()
	if left <= 0 {
		c.err = ErrTooMuchData
		return 0, c.err
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.budget.bytes.Add(-int64(n))
	for i, b := range p[:n] {
		if c.control && c.read < 3 && (b < '0' || b > '9') {
			c.err = ErrNotFTP
			return i, nil
		}
		c.read++
		if b == '\n' {
			c.lineLen = 0
			if c.budget.lines.Add(-1) < 0 {
				c.err = ErrTooMuchData
				return i + 1, nil
			}
			continue
		}
		if c.lineLen++; c.lineLen > c.maxLine {
			c.err = ErrTooMuchData
			return i, nil
		}
	}
	return n, err
}
