package xmlrpcapi

// The decoder reads the subset of XML that XML-RPC uses straight from a
// bufio.Reader: no token objects, names compared in place, text decoded
// into one reused buffer. It allocates what it returns (each string once,
// exactly sized) and a few kilobytes of buffers: about 1× the body for a
// typical call, where encoding/xml allocated 8× (FuzzDecodeDifferential
// compares the two). It streams: a call's params can be read one by one,
// so the server checks credentials before it reads the rest of a body.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// errSyntax wraps every decoding failure; callers answer it with
// FaultParse. Errors of the underlying reader (such as
// *http.MaxBytesError) are wrapped too.
var errSyntax = errors.New("malformed XML-RPC")

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSyntax, fmt.Sprintf(format, args...))
}

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

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// entity decodes a character or predefined entity reference after its '&'.
func (p *parser) entity() error {
	var buf [maxEntityLn]byte
	n := 0
	for {
		b, err := p.readByte()
		if err != nil {
			return err
		}
		if b == ';' {
			break
		}
		if n == len(buf) {
			return syntaxErr("invalid character entity &%s", buf[:n])
		}
		buf[n] = b
		n++
	}
	ref := buf[:n]
	switch string(ref) {
	case "lt":
		p.text = append(p.text, '<')
	case "gt":
		p.text = append(p.text, '>')
	case "amp":
		p.text = append(p.text, '&')
	case "apos":
		p.text = append(p.text, '\'')
	case "quot":
		p.text = append(p.text, '"')
	default:
		if len(ref) < 2 || ref[0] != '#' {
			return syntaxErr("invalid character entity &%s;", ref)
		}
		var r uint64
		var err error
		if ref[1] == 'x' {
			r, err = strconv.ParseUint(string(ref[2:]), 16, 32)
		} else {
			r, err = strconv.ParseUint(string(ref[1:]), 10, 32)
		}
		if err != nil || !isXMLChar(rune(r)) {
			return syntaxErr("invalid character entity &%s;", ref)
		}
		p.text = utf8.AppendRune(p.text, rune(r))
	}
	return nil
}

// bang reads what follows "<!": a comment (skipped) or a CDATA section
// (appended to p.text; cdata is true). Anything else is a directive.
func (p *parser) bang() (cdata bool, err error) {
	b, err := p.readByte()
	if err != nil {
		return false, err
	}
	switch b {
	case '-':
		if err := p.expectByte('-'); err != nil {
			return false, err
		}
		var b0, b1 byte
		for {
			b, err := p.readByte()
			if err != nil {
				return false, err
			}
			if b0 == '-' && b1 == '-' {
				if b != '>' {
					return false, syntaxErr(`invalid sequence "--" in a comment`)
				}
				return false, nil
			}
			b0, b1 = b1, b
		}
	case '[':
		for _, want := range []byte("CDATA[") {
			if err := p.expectByte(want); err != nil {
				return false, syntaxErr("DTDs and directives are not allowed")
			}
		}
		start := len(p.text)
		for {
			b, err := p.readByte()
			if err != nil {
				return false, err
			}
			if b == '>' && len(p.text)-start >= 2 && bytes.HasSuffix(p.text, []byte("]]")) {
				p.text = p.text[:len(p.text)-2]
				return true, nil
			}
			if b == '&' {
				p.text = append(p.text, b) // no references inside CDATA
			} else if err := p.char(b); err != nil {
				return false, err
			}
			// The text may end in the "]]" of the section's end.
			if p.textMax > 0 && len(p.text) > p.textMax+2 {
				return false, p.checkTextLen()
			}
		}
	}
	return false, syntaxErr("DTDs and directives are not allowed")
}

// procInst skips a processing instruction after its "<?".
func (p *parser) procInst() error {
	var prev byte
	for {
		b, err := p.readByte()
		if err != nil {
			return err
		}
		if prev == '?' && b == '>' {
			return nil
		}
		prev = b
	}
}

// declaration handles an XML declaration at the start of the input (and a
// UTF-8 byte order mark): other encodings than UTF-8 are converted with
// golang.org/x/net/html/charset.
func (p *parser) declaration() error {
	if b, err := p.r.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		if _, err := p.r.Discard(3); err != nil {
			return p.readErr(err)
		}
	}
	b, err := p.r.Peek(6)
	if err != nil || string(b[:5]) != "<?xml" || !isSpace(b[5]) {
		return nil // no declaration (or a short input that next reads)
	}
	if _, err := p.r.Discard(6); err != nil {
		return p.readErr(err)
	}
	var decl []byte
	for {
		b, err := p.readByte()
		if err != nil {
			return err
		}
		if b == '>' && bytes.HasSuffix(decl, []byte("?")) {
			decl = decl[:len(decl)-1]
			break
		}
		if len(decl) == maxDeclLen {
			return syntaxErr("XML declaration over %d bytes", maxDeclLen)
		}
		decl = append(decl, b)
	}
	if v := pseudoAttr(decl, "version"); v != "" && v != "1.0" {
		return syntaxErr("unsupported XML version %.20q", v)
	}
	enc := pseudoAttr(decl, "encoding")
	if enc == "" || strings.EqualFold(enc, "utf-8") {
		return nil
	}
	r, err := charset.NewReaderLabel(enc, p.r)
	if err != nil {
		return syntaxErr("unsupported encoding %.40q", enc)
	}
	p.r = bufio.NewReader(r)
	return nil
}

// pseudoAttr returns the value of name="value" in an XML declaration.
func pseudoAttr(decl []byte, name string) string {
	i := bytes.Index(decl, []byte(name))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(decl[i+len(name):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	end := bytes.IndexByte(rest[1:], rest[0])
	if end < 0 {
		return ""
	}
	return string(rest[1 : 1+end])
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

// DecodeCall reads a methodCall.
func DecodeCall(r io.Reader, lim Limits) (method string, params []any, err error) {
	p := newParser(r, lim)
	if method, err = p.methodName(); err != nil {
		return "", nil, err
	}
	params = []any{}
	for {
		v, ok, err := p.param()
		if err != nil {
			return "", nil, err
		}
		if !ok {
			return method, params, nil
		}
		params = append(params, v)
	}
}

// methodName reads a methodCall up to and including its methodName.
func (p *parser) methodName() (string, error) {
	if err := p.expectStart("methodCall"); err != nil {
		return "", err
	}
	if err := p.expectStart("methodName"); err != nil {
		return "", err
	}
	p.textMax = maxMethodName
	text, err := p.textOf("methodName")
	p.textMax = 0
	if err != nil {
		return "", err
	}
	name := string(bytes.TrimSpace(text))
	if name == "" {
		return "", syntaxErr("empty methodName")
	}
	p.call = callName
	return name, nil
}

// param returns the next param of the methodCall being read; ok is false
// after the last one, once the rest of the document has been checked.
func (p *parser) param() (v any, ok bool, err error) {
	switch p.call {
	case callDone:
		return nil, false, nil
	case callName:
		k, err := p.element()
		if err != nil {
			return nil, false, err
		}
		switch {
		case k == kindStart && p.is("params"):
			p.call = callParams
		case k == kindEnd && p.is("methodCall"):
			p.call = callDone
			return nil, false, p.end()
		default:
			return nil, false, syntaxErr("expected </methodCall>, got %s", p.describe(k))
		}
	}
	v, ok, err = p.nextParam()
	if err != nil || ok {
		return v, ok, err
	}
	if err := p.expectEnd("methodCall"); err != nil {
		return nil, false, err
	}
	p.call = callDone
	return nil, false, p.end()
}

// nextParam reads the next <param> inside <params>; ok is false at
// </params>.
func (p *parser) nextParam() (v any, ok bool, err error) {
	k, err := p.element()
	if err != nil {
		return nil, false, err
	}
	if k == kindEnd {
		if !p.is("params") {
			return nil, false, syntaxErr("expected </params>, got %s", p.describe(k))
		}
		return nil, false, nil
	}
	if !p.is("param") {
		return nil, false, syntaxErr("expected <param>, got %s", p.describe(k))
	}
	if err := p.expectStart("value"); err != nil {
		return nil, false, err
	}
	if v, err = p.value(0); err != nil {
		return nil, false, err
	}
	return v, true, p.expectEnd("param")
}

// end checks that nothing but whitespace, comments and processing
// instructions follows the document.
func (p *parser) end() error {
	for {
		k, err := p.next()
		if err != nil {
			return err
		}
		switch k {
		case kindEOF:
			return nil
		case kindText:
			if len(bytes.TrimSpace(p.text)) != 0 {
				return syntaxErr("text after the document")
			}
		default:
			return syntaxErr("content after the document")
		}
	}
}

// DecodeResponse reads a methodResponse: its value, or a *Fault error.
func DecodeResponse(r io.Reader, lim Limits) (any, error) {
	p := newParser(r, lim)
	result, err := p.response(func() (any, error) {
		v, ok, err := p.nextParam()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, syntaxErr("a response has exactly one param, got 0")
		}
		if _, more, err := p.nextParam(); err != nil || more {
			return nil, cmpOr(err, syntaxErr("a response has exactly one param, got more"))
		}
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

func cmpOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// response reads a methodResponse around params, which reads what is
// inside <params> through </params>. A fault is returned as a *Fault.
func (p *parser) response(params func() (any, error)) (any, error) {
	if err := p.expectStart("methodResponse"); err != nil {
		return nil, err
	}
	k, err := p.element()
	if err != nil {
		return nil, err
	}
	if k != kindStart {
		return nil, syntaxErr("empty methodResponse")
	}
	var result any
	var fault *Fault
	switch {
	case p.is("params"):
		if result, err = params(); err != nil {
			return nil, err
		}
	case p.is("fault"):
		if err := p.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := p.value(0)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		code, ok1 := m["faultCode"].(int64)
		msg, ok2 := m["faultString"].(string)
		if !ok || !ok1 || !ok2 {
			return nil, syntaxErr("fault is not a struct of faultCode and faultString")
		}
		fault = &Fault{Code: int(code), String: msg}
		if err := p.expectEnd("fault"); err != nil {
			return nil, err
		}
	default:
		return nil, syntaxErr("unexpected %s in methodResponse", p.describe(k))
	}
	if err := p.expectEnd("methodResponse"); err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	if fault != nil {
		return nil, fault
	}
	return result, nil
}

// value parses the inside of a <value> whose start tag was read, through
// its end tag.
func (p *parser) value(depth int) (any, error) {
	s, isString, v, err := p.valueOrString(depth)
	if isString {
		return s, err
	}
	return v, err
}

// valueOrString is value, with a string value returned as s (isString)
// rather than boxed in an interface.
func (p *parser) valueOrString(depth int) (s string, isString bool, v any, err error) {
	p.values++
	if p.values > p.lim.MaxValues {
		return "", false, nil, syntaxErr("more than %d values", p.lim.MaxValues)
	}
	k, err := p.next()
	if err != nil {
		return "", false, nil, err
	}
	hadText := k == kindText
	if hadText {
		if k, err = p.next(); err != nil {
			return "", false, nil, err
		}
	}
	switch k {
	case kindEnd:
		if !p.is("value") {
			return "", false, nil, syntaxErr("expected </value>, got %s", p.describe(k))
		}
		if hadText {
			return string(p.text), true, nil, nil // untyped: a string
		}
		return "", true, nil, nil
	case kindStart:
		if hadText && len(bytes.TrimSpace(p.text)) != 0 {
			return "", false, nil, syntaxErr("text mixed with %s", p.describe(k))
		}
		typ, ok := xmlType(p.name)
		if !ok {
			return "", false, nil, syntaxErr("unknown type %s", p.describe(k))
		}
		if typ == "string" {
			text, err := p.textOf(typ)
			if err != nil {
				return "", false, nil, err
			}
			return string(text), true, nil, p.expectEnd("value")
		}
		v, err := p.typed(typ, depth)
		if err != nil {
			return "", false, nil, err
		}
		return "", false, v, p.expectEnd("value")
	}
	return "", false, nil, syntaxErr("unexpected end of document")
}

// xmlType returns the type named by a tag inside <value>, as a constant.
func xmlType(name []byte) (string, bool) {
	switch string(name) {
	case "array":
		return "array", true
	case "struct":
		return "struct", true
	case "nil":
		return "nil", true
	case "string":
		return "string", true
	case "int":
		return "int", true
	case "i4":
		return "i4", true
	case "i8":
		return "i8", true
	case "boolean":
		return "boolean", true
	case "double":
		return "double", true
	case "dateTime.iso8601":
		return "dateTime.iso8601", true
	case "base64":
		return "base64", true
	}
	return "", false
}

// Accepted dateTime layouts: the specification's, ISO 8601 with dashes,
// with or without zone and fraction.
func dateLayouts() []string {
	return []string{
		"20060102T15:04:05", "20060102T150405", "2006-01-02T15:04:05", "20060102T15:04:05Z07:00",
		"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00",
		"20060102T15:04:05.999999999", "20060102T15:04:05.999999999Z07:00",
	}
}

func (p *parser) typed(name string, depth int) (any, error) {
	switch name {
	case "array":
		return p.array(depth + 1)
	case "struct":
		return p.structure(depth + 1)
	case "nil":
		return nil, p.expectEnd("nil")
	}
	text, err := p.textOf(name)
	if err != nil {
		return nil, err
	}
	return scalar(name, text)
}

// scalar converts the text of a <name> value of a scalar type (string,
// int, i4, i8, boolean, double, dateTime.iso8601, base64). It may modify
// text.
func scalar(name string, text []byte) (any, error) {
	switch name {
	case "string":
		return string(text), nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(string(bytes.TrimSpace(text)), 10, 64)
		if err != nil {
			return nil, syntaxErr("bad <%s> %.40q", name, text)
		}
		return n, nil
	case "boolean":
		switch string(bytes.TrimSpace(text)) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, syntaxErr("bad <boolean> %.40q", text)
	case "double":
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(text)), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, syntaxErr("bad <double> %.40q", text)
		}
		return f, nil
	case "dateTime.iso8601":
		s := string(bytes.TrimSpace(text))
		for _, layout := range dateLayouts() {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, syntaxErr("bad <dateTime.iso8601> %.40q", s)
	case "base64":
		// Whitespace may stand anywhere.
		compact := text[:0]
		for _, b := range text {
			if !isSpace(b) {
				compact = append(compact, b)
			}
		}
		out := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
		n, err := base64.StdEncoding.Decode(out, compact)
		if err != nil {
			return nil, syntaxErr("bad <base64>: %v", err)
		}
		return out[:n], nil
	}
	return nil, syntaxErr("unknown type <%s>", name)
}

func (p *parser) array(depth int) ([]any, error) {
	var b blocks[any]
	if err := p.arrayEach(depth, func(v any) error {
		b.add(v)
		return nil
	}); err != nil {
		return nil, err
	}
	return b.all(), nil
}

// blocks gathers values: by append up to blockLen, then in blocks of
// blockLen copied once into an exactly sized slice (growing a large slice
// by append allocates about 5× its final size on the way, as it grows by
// 1.25×).
type blocks[T any] struct {
	full [][]T
	cur  []T
	n    int
}

const blockLen = 1 << 12

func (b *blocks[T]) add(v T) {
	if len(b.cur) == blockLen {
		b.full = append(b.full, b.cur)
		b.cur = make([]T, 0, blockLen)
	}
	b.cur = append(b.cur, v)
	b.n++
}

func (b *blocks[T]) all() []T {
	if len(b.full) == 0 {
		if b.cur == nil {
			return []T{}
		}
		return b.cur
	}
	out := make([]T, 0, b.n)
	for _, f := range b.full {
		out = append(out, f...)
	}
	return append(out, b.cur...)
}

// arrayEach reads the inside of an <array> whose start tag was read,
// through its end tag, handing each element to f.
func (p *parser) arrayEach(depth int, f func(any) error) error {
	return p.arrayElems(depth, func(s string, isString bool, v any) error {
		if isString {
			return f(s)
		}
		return f(v)
	})
}

// arrayElems is arrayEach without boxing strings.
func (p *parser) arrayElems(depth int, f func(s string, isString bool, v any) error) error {
	if depth > p.lim.MaxDepth {
		return syntaxErr("nested deeper than %d", p.lim.MaxDepth)
	}
	if err := p.expectStart("data"); err != nil {
		return err
	}
	for {
		k, err := p.element()
		if err != nil {
			return err
		}
		if k == kindEnd {
			if !p.is("data") {
				return syntaxErr("expected </data>, got %s", p.describe(k))
			}
			return p.expectEnd("array")
		}
		if !p.is("value") {
			return syntaxErr("expected <value> in array, got %s", p.describe(k))
		}
		s, isString, v, err := p.valueOrString(depth)
		if err != nil {
			return err
		}
		if err := f(s, isString, v); err != nil {
			return err
		}
	}
}

func (p *parser) structure(depth int) (map[string]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, syntaxErr("nested deeper than %d", p.lim.MaxDepth)
	}
	out := map[string]any{}
	for {
		k, err := p.element()
		if err != nil {
			return nil, err
		}
		if k == kindEnd {
			if !p.is("struct") {
				return nil, syntaxErr("expected </struct>, got %s", p.describe(k))
			}
			return out, nil
		}
		if !p.is("member") {
			return nil, syntaxErr("expected <member>, got %s", p.describe(k))
		}
		if err := p.expectStart("name"); err != nil {
			return nil, err
		}
		text, err := p.textOf("name")
		if err != nil {
			return nil, err
		}
		name := string(text)
		if err := p.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		out[name] = v
		if err := p.expectEnd("member"); err != nil {
			return nil, err
		}
	}
}
