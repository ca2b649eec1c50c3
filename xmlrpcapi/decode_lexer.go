package xmlrpcapi

// The lexer of the decoder: it reads tags, names and text of the XML
// subset XML-RPC uses from a bufio.Reader, one token at a time, with
// names compared in place and text decoded into one reused buffer.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// kind is what parser.next read.
type kind uint8

const (
	kindEOF   kind = iota // the end of the input
	kindText              // character data, decoded into parser.text
	kindStart             // a start tag; its local name in parser.name
	kindEnd               // an end tag (also the end of <x/>)
)

// Limits on names, so that hostile input cannot grow the scratch buffers
// beyond a few kilobytes outside text.
const (
	maxNameLen  = 256
	maxAttrs    = 16
	maxDeclLen  = 1024
	maxEntityLn = 10
	// maxMethodName bounds the text of <methodName> (whitespace
	// included): no method is named in more, and a longer one is refused
	// as it is read, not read whole and echoed back.
	maxMethodName = 256
)

// callState is how far a methodCall has been read.
type callState uint8

const (
	callStart  callState = iota // before <methodCall>
	callName                    // after </methodName>
	callParams                  // inside <params>
	callDone                    // after </methodCall>, the rest checked
)

type parser struct {
	r      *bufio.Reader
	lim    Limits
	values int

	name      []byte // local name of the last tag
	full      []byte // the last tag's whole name (prefix:local)
	text      []byte // the last text, decoded
	emptyEnd  bool   // the last tag was <x/>: its end comes next
	pendingLT bool   // text ended at a '<' that starts a tag: the tag comes next
	prolog    bool   // the XML declaration has been handled
	textMax   int    // > 0: the most bytes of text next may read (maxMethodName)

	call callState
}

func newParser(r io.Reader, lim Limits) *parser {
	return &parser{r: bufio.NewReader(r), lim: lim.withDefaults()}
}

func (p *parser) readErr(err error) error {
	if err == io.EOF {
		return syntaxErr("unexpected end of document")
	}
	return fmt.Errorf("%w: %w: %w", errSyntax, errReadBody, err)
}

// errReadBody marks a decoding failure of the input's reader (a timeout,
// a dropped connection, a budget or size limit), not of the document.
var errReadBody = errors.New("reading the body")

func (p *parser) readByte() (byte, error) {
	b, err := p.r.ReadByte()
	if err != nil {
		return 0, p.readErr(err)
	}
	return b, nil
}

func (p *parser) expectByte(want byte) error {
	b, err := p.readByte()
	if err != nil {
		return err
	}
	if b != want {
		return syntaxErr("expected %q, got %q", want, b)
	}
	return nil
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func (p *parser) skipSpace() (byte, error) {
	for {
		b, err := p.readByte()
		if err != nil || !isSpace(b) {
			return b, err
		}
	}
}

// next returns the next start tag, end tag or text. Comments and
// processing instructions are skipped (text around them is joined), CDATA
// sections are text, DTDs and other directives are refused (no entity
// expansion). At the end of the input it returns kindEOF.
func (p *parser) next() (kind, error) {
	if p.emptyEnd {
		p.emptyEnd = false
		return kindEnd, nil
	}
	if p.pendingLT {
		p.pendingLT = false
		return p.tag()
	}
	if !p.prolog {
		p.prolog = true
		if err := p.declaration(); err != nil {
			return 0, err
		}
	}
	p.text = p.text[:0]
	haveText := false
	for {
		b, err := p.r.ReadByte()
		if err == io.EOF {
			if haveText {
				return kindText, nil
			}
			return kindEOF, nil
		}
		if err != nil {
			return 0, p.readErr(err)
		}
		if b != '<' {
			haveText = true
			if err := p.char(b); err != nil {
				return 0, err
			}
			if err := p.checkTextLen(); err != nil {
				return 0, err
			}
			continue
		}
		c, err := p.readByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case '!':
			cdata, err := p.bang()
			if err != nil {
				return 0, err
			}
			haveText = haveText || cdata
		case '?':
			if err := p.procInst(); err != nil {
				return 0, err
			}
		default:
			if err := p.r.UnreadByte(); err != nil {
				return 0, p.readErr(err)
			}
			if haveText {
				p.pendingLT = true
				return kindText, nil
			}
			return p.tag()
		}
	}
}

// char appends the text byte b (and what it starts: a rune, an entity, a
// line end) to p.text, normalising line ends as XML does.
func (p *parser) char(b byte) error {
	switch {
	case b == '&':
		return p.entity()
	case b == '\r':
		if n, err := p.r.Peek(1); err == nil && n[0] == '\n' {
			if _, err := p.r.Discard(1); err != nil {
				return p.readErr(err)
			}
		}
		p.text = append(p.text, '\n')
	case b >= utf8.RuneSelf:
		if err := p.r.UnreadByte(); err != nil {
			return p.readErr(err)
		}
		r, size, err := p.r.ReadRune()
		if err != nil {
			return p.readErr(err)
		}
		if r == utf8.RuneError && size == 1 {
			return syntaxErr("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return syntaxErr("illegal character code %U", r)
		}
		p.text = utf8.AppendRune(p.text, r)
	case b < 0x20 && b != '\t' && b != '\n':
		return syntaxErr("illegal character code %U", rune(b))
	default:
		p.text = append(p.text, b)
	}
	return nil
}

// checkTextLen refuses text beyond p.textMax (when set).
func (p *parser) checkTextLen() error {
	if p.textMax > 0 && len(p.text) > p.textMax {
		return syntaxErr("methodName over %d bytes", p.textMax)
	}
	return nil
}

// tag reads a start or end tag after its '<'.
func (p *parser) tag() (kind, error) {
	b, err := p.readByte()
	if err != nil {
		return 0, err
	}
	if b == '/' {
		if err := p.readName(); err != nil {
			return 0, err
		}
		b, err := p.skipSpace()
		if err != nil {
			return 0, err
		}
		if b != '>' {
			return 0, syntaxErr("invalid characters in end tag </%s>", p.full)
		}
		return kindEnd, nil
	}
	if err := p.r.UnreadByte(); err != nil {
		return 0, p.readErr(err)
	}
	if err := p.readName(); err != nil {
		return 0, err
	}
	for attrs := 0; ; attrs++ {
		b, err := p.skipSpace()
		if err != nil {
			return 0, err
		}
		switch b {
		case '>':
			return kindStart, nil
		case '/':
			if err := p.expectByte('>'); err != nil {
				return 0, err
			}
			p.emptyEnd = true
			return kindStart, nil
		}
		if attrs == maxAttrs {
			return 0, syntaxErr("more than %d attributes in <%s>", maxAttrs, p.full)
		}
		if err := p.skipAttr(b); err != nil {
			return 0, err
		}
	}
}

func isNameByte(b byte, first bool) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_', b == ':', b >= utf8.RuneSelf:
		return true
	case b >= '0' && b <= '9', b == '-', b == '.':
		return !first
	}
	return false
}

// readName reads a tag name into p.full and its local part into p.name.
func (p *parser) readName() error {
	p.full = p.full[:0]
	for {
		b, err := p.readByte()
		if err != nil {
			return err
		}
		if !isNameByte(b, len(p.full) == 0) {
			if err := p.r.UnreadByte(); err != nil {
				return p.readErr(err)
			}
			break
		}
		if len(p.full) == maxNameLen {
			return syntaxErr("name over %d bytes", maxNameLen)
		}
		p.full = append(p.full, b)
	}
	if len(p.full) == 0 {
		return syntaxErr("expected an element name after <")
	}
	if !utf8.Valid(p.full) {
		return syntaxErr("invalid UTF-8")
	}
	p.name = p.full
	if i := bytes.IndexByte(p.full, ':'); i > 0 && i < len(p.full)-1 {
		p.name = p.full[i+1:]
	}
	return nil
}

// skipAttr reads one attribute (name="value"), whose first byte is b, and
// ignores it: XML-RPC has none (namespace declarations of ex:nil, ex:i8).
func (p *parser) skipAttr(b byte) error {
	n := 0
	for ; isNameByte(b, n == 0); n++ {
		if n == maxNameLen {
			return syntaxErr("attribute name over %d bytes", maxNameLen)
		}
		var err error
		if b, err = p.readByte(); err != nil {
			return err
		}
	}
	if n == 0 {
		return syntaxErr("invalid character %q in <%s>", b, p.full)
	}
	if isSpace(b) {
		var err error
		if b, err = p.skipSpace(); err != nil {
			return err
		}
	}
	if b != '=' {
		return syntaxErr("attribute without a value in <%s>", p.full)
	}
	q, err := p.skipSpace()
	if err != nil {
		return err
	}
	if q != '"' && q != '\'' {
		return syntaxErr("unquoted attribute value in <%s>", p.full)
	}
	// The value is checked as text is (characters, references) and
	// dropped.
	keep := len(p.text)
	defer func() { p.text = p.text[:keep] }()
	for {
		b, err := p.readByte()
		if err != nil {
			return err
		}
		switch b {
		case q:
			return nil
		case '<':
			return syntaxErr("'<' in an attribute value")
		}
		if err := p.char(b); err != nil {
			return err
		}
	}
}

// element returns the next start or end tag, skipping whitespace.
func (p *parser) element() (kind, error) {
	for {
		k, err := p.next()
		if err != nil {
			return 0, err
		}
		switch k {
		case kindEOF:
			return 0, syntaxErr("unexpected end of document")
		case kindText:
			if len(bytes.TrimSpace(p.text)) != 0 {
				return 0, syntaxErr("unexpected text %.40q", p.text)
			}
			continue
		}
		return k, nil
	}
}

func (p *parser) is(name string) bool { return string(p.name) == name }

func (p *parser) describe(k kind) string {
	switch k {
	case kindStart:
		return "<" + string(p.full) + ">"
	case kindEnd:
		return "</" + string(p.full) + ">"
	}
	return "end of document"
}

func (p *parser) expectStart(name string) error { return p.expect(kindStart, "<", name) }

func (p *parser) expectEnd(name string) error { return p.expect(kindEnd, "</", name) }

// expect reads the next tag, which must be of kind want (opened by open,
// "<" or "</") and named name.
func (p *parser) expect(want kind, open, name string) error {
	k, err := p.element()
	if err != nil {
		return err
	}
	if k != want || !p.is(name) {
		return syntaxErr("expected %s%s>, got %s", open, name, p.describe(k))
	}
	return nil
}

// textOf reads the character data of element name, whose start tag was
// read, through its end tag. The result aliases p.text.
func (p *parser) textOf(name string) ([]byte, error) {
	k, err := p.next()
	if err != nil {
		return nil, err
	}
	var text []byte
	if k == kindText {
		text = p.text
		if k, err = p.next(); err != nil {
			return nil, err
		}
	}
	if k == kindStart {
		return nil, syntaxErr("unexpected %s inside <%s>", p.describe(k), name)
	}
	if k != kindEnd || !p.is(name) {
		return nil, syntaxErr("expected </%s>", name)
	}
	return text, nil
}
