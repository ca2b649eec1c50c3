package xmlrpcapi

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// The value model of the codec. Decoding produces:
//
//	XML-RPC              Go
//	int, i4, i8          int64
//	boolean              bool
//	string, untyped      string
//	double               float64
//	dateTime.iso8601     time.Time (UTC unless the value carries a zone)
//	base64               []byte
//	array                []any
//	struct               map[string]any
//	nil, ex:nil          nil
//
// Encoding accepts those types plus int, int32, []string, [][]string,
// []map[string]any and Struct, and refuses integers outside int32 (Python
// cannot read them) and NaN or infinite doubles.

// Struct is an XML-RPC struct with its members in a fixed order. A
// map[string]any is encoded with its members sorted by name.
type Struct []Member

// Member is one member of a Struct.
type Member struct {
	Name  string
	Value any
}

// Fault is an XML-RPC fault. It is an error.
type Fault struct {
	Code   int
	String string
}

// Error implements error.
func (f *Fault) Error() string { return fmt.Sprintf("xmlrpc fault %d: %s", f.Code, f.String) }

// Standard fault codes (the specification for faults of the server itself,
// http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php).
const (
	FaultParse          = -32700 // not well-formed
	FaultEncoding       = -32701 // unsupported encoding
	FaultInvalidRequest = -32600 // not an XML-RPC methodCall
	FaultUnknownMethod  = -32601
	FaultInvalidParams  = -32602
	FaultInternal       = -32603
	FaultApplication    = -1 // the original server's code for everything else
)

// Limits bound what the decoder accepts.
type Limits struct {
	// MaxDepth is the deepest nesting of arrays and structs. Default 32.
	MaxDepth int
	// MaxValues is the most values in one document. Default 1,000,000.
	MaxValues int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxValues <= 0 {
		l.MaxValues = 1_000_000
	}
	return l
}

// errSyntax wraps every decoding failure; callers answer it with
// FaultParse.
var errSyntax = errors.New("malformed XML-RPC")

type parser struct {
	d      *xml.Decoder
	lim    Limits
	values int
}

func newParser(r io.Reader, lim Limits) *parser {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = charset.NewReaderLabel
	return &parser{d: d, lim: lim.withDefaults()}
}

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSyntax, fmt.Sprintf(format, args...))
}

// tok returns the next token that matters: comments and processing
// instructions are skipped, DTDs refused (no entity expansion).
func (p *parser) tok() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil, syntaxErr("unexpected end of document")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSyntax, err)
		}
		switch t := t.(type) {
		case xml.Comment, xml.ProcInst:
			continue
		case xml.Directive:
			return nil, syntaxErr("DTDs and directives are not allowed")
		case xml.CharData:
			return t.Copy(), nil
		default:
			return t, nil
		}
	}
}

// element returns the next start or end element, skipping whitespace.
func (p *parser) element() (xml.Token, error) {
	for {
		t, err := p.tok()
		if err != nil {
			return nil, err
		}
		if cd, ok := t.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) != 0 {
				return nil, syntaxErr("unexpected text %.40q", cd)
			}
			continue
		}
		return t, nil
	}
}

func (p *parser) expectStart(name string) error {
	t, err := p.element()
	if err != nil {
		return err
	}
	if s, ok := t.(xml.StartElement); !ok || s.Name.Local != name {
		return syntaxErr("expected <%s>, got %s", name, describe(t))
	}
	return nil
}

func (p *parser) expectEnd(name string) error {
	t, err := p.element()
	if err != nil {
		return err
	}
	if e, ok := t.(xml.EndElement); !ok || e.Name.Local != name {
		return syntaxErr("expected </%s>, got %s", name, describe(t))
	}
	return nil
}

func describe(t xml.Token) string {
	switch t := t.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	}
	return fmt.Sprintf("%T", t)
}

// text reads character data up to the end of the current element.
func (p *parser) text(name string) (string, error) {
	var b strings.Builder
	for {
		t, err := p.tok()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			if t.Name.Local != name {
				return "", syntaxErr("expected </%s>", name)
			}
			return b.String(), nil
		default:
			return "", syntaxErr("unexpected %s inside <%s>", describe(t), name)
		}
	}
}

// DecodeCall reads a methodCall.
func DecodeCall(r io.Reader, lim Limits) (method string, params []any, err error) {
	p := newParser(r, lim)
	if err := p.expectStart("methodCall"); err != nil {
		return "", nil, err
	}
	if err := p.expectStart("methodName"); err != nil {
		return "", nil, err
	}
	if method, err = p.text("methodName"); err != nil {
		return "", nil, err
	}
	method = strings.TrimSpace(method)
	if method == "" {
		return "", nil, syntaxErr("empty methodName")
	}
	params = []any{}
	t, err := p.element()
	if err != nil {
		return "", nil, err
	}
	if s, ok := t.(xml.StartElement); ok && s.Name.Local == "params" {
		if params, err = p.params(); err != nil {
			return "", nil, err
		}
		if t, err = p.element(); err != nil {
			return "", nil, err
		}
	}
	if e, ok := t.(xml.EndElement); !ok || e.Name.Local != "methodCall" {
		return "", nil, syntaxErr("expected </methodCall>, got %s", describe(t))
	}
	return method, params, p.end()
}

// end checks that nothing but whitespace and comments follows.
func (p *parser) end() error {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return syntaxErr("%v", err)
		}
		switch t := t.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return syntaxErr("text after the document")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return syntaxErr("content after the document")
		}
	}
}

func (p *parser) params() ([]any, error) {
	out := []any{}
	for {
		t, err := p.element()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return out, nil // </params>
		case xml.StartElement:
			if t.Name.Local != "param" {
				return nil, syntaxErr("expected <param>, got %s", describe(t))
			}
			if err := p.expectStart("value"); err != nil {
				return nil, err
			}
			v, err := p.value(0)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if err := p.expectEnd("param"); err != nil {
				return nil, err
			}
		}
	}
}

// DecodeResponse reads a methodResponse: its value, or a *Fault error.
func DecodeResponse(r io.Reader, lim Limits) (any, error) {
	p := newParser(r, lim)
	if err := p.expectStart("methodResponse"); err != nil {
		return nil, err
	}
	t, err := p.element()
	if err != nil {
		return nil, err
	}
	s, ok := t.(xml.StartElement)
	if !ok {
		return nil, syntaxErr("empty methodResponse")
	}
	var result any
	var fault *Fault
	switch s.Name.Local {
	case "params":
		ps, err := p.params()
		if err != nil {
			return nil, err
		}
		if len(ps) != 1 {
			return nil, syntaxErr("a response has exactly one param, got %d", len(ps))
		}
		result = ps[0]
	case "fault":
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
		return nil, syntaxErr("unexpected <%s> in methodResponse", s.Name.Local)
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
	p.values++
	if p.values > p.lim.MaxValues {
		return nil, syntaxErr("more than %d values", p.lim.MaxValues)
	}
	var text strings.Builder
	for {
		t, err := p.tok()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if t.Name.Local != "value" {
				return nil, syntaxErr("expected </value>")
			}
			return text.String(), nil // untyped: a string
		case xml.StartElement:
			if strings.TrimSpace(text.String()) != "" {
				return nil, syntaxErr("text mixed with <%s>", t.Name.Local)
			}
			v, err := p.typed(t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			if err := p.expectEnd("value"); err != nil {
				return nil, err
			}
			return v, nil
		}
	}
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
	s, err := p.text(name)
	if err != nil {
		return nil, err
	}
	switch name {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, syntaxErr("bad <%s> %.40q", name, s)
		}
		return n, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, syntaxErr("bad <boolean> %.40q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, syntaxErr("bad <double> %.40q", s)
		}
		return f, nil
	case "dateTime.iso8601":
		s = strings.TrimSpace(s)
		for _, layout := range dateLayouts() {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, syntaxErr("bad <dateTime.iso8601> %.40q", s)
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, s))
		if err != nil {
			return nil, syntaxErr("bad <base64>: %v", err)
		}
		return b, nil
	}
	return nil, syntaxErr("unknown type <%s>", name)
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return -1
	}
	return r
}

func (p *parser) array(depth int) ([]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, syntaxErr("nested deeper than %d", p.lim.MaxDepth)
	}
	if err := p.expectStart("data"); err != nil {
		return nil, err
	}
	out := []any{}
	for {
		t, err := p.element()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement: // </data>
			return out, p.expectEnd("array")
		case xml.StartElement:
			if t.Name.Local != "value" {
				return nil, syntaxErr("expected <value> in array, got %s", describe(t))
			}
			v, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
}

func (p *parser) structure(depth int) (map[string]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, syntaxErr("nested deeper than %d", p.lim.MaxDepth)
	}
	out := map[string]any{}
	for {
		t, err := p.element()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement: // </struct>
			return out, nil
		case xml.StartElement:
			if t.Name.Local != "member" {
				return nil, syntaxErr("expected <member>, got %s", describe(t))
			}
			if err := p.expectStart("name"); err != nil {
				return nil, err
			}
			name, err := p.text("name")
			if err != nil {
				return nil, err
			}
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
}

// encoder writes values; errors name the offending type.
type encoder struct {
	b bytes.Buffer
}

const xmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

// EncodeResponse returns a methodResponse carrying v.
func EncodeResponse(v any) ([]byte, error) {
	var e encoder
	e.b.WriteString(xmlHeader + "<methodResponse><params><param>")
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	e.b.WriteString("</param></params></methodResponse>\n")
	return e.b.Bytes(), nil
}

// EncodeFault returns a methodResponse carrying a fault. A code outside
// int32 is sent as FaultInternal.
func EncodeFault(code int, msg string) []byte {
	var e encoder
	e.b.WriteString(xmlHeader + "<methodResponse><fault>")
	if err := e.value(Struct{{"faultCode", code}, {"faultString", msg}}, 0); err != nil {
		// Only a code outside int32 fails; Python could not read it.
		return EncodeFault(FaultInternal, msg)
	}
	e.b.WriteString("</fault></methodResponse>\n")
	return e.b.Bytes()
}

// EncodeCall returns a methodCall.
func EncodeCall(method string, params ...any) ([]byte, error) {
	var e encoder
	e.b.WriteString(xmlHeader + "<methodCall><methodName>")
	e.text(method)
	e.b.WriteString("</methodName><params>")
	for _, p := range params {
		e.b.WriteString("<param>")
		if err := e.value(p, 0); err != nil {
			return nil, err
		}
		e.b.WriteString("</param>")
	}
	e.b.WriteString("</params></methodCall>\n")
	return e.b.Bytes(), nil
}

const maxEncodeDepth = 64

func (e *encoder) value(v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("xmlrpcapi: encode: nested deeper than %d", maxEncodeDepth)
	}
	e.b.WriteString("<value>")
	switch v := v.(type) {
	case nil:
		e.b.WriteString("<nil/>")
	case bool:
		if v {
			e.b.WriteString("<boolean>1</boolean>")
		} else {
			e.b.WriteString("<boolean>0</boolean>")
		}
	case int:
		if err := e.int(int64(v)); err != nil {
			return err
		}
	case int32:
		if err := e.int(int64(v)); err != nil {
			return err
		}
	case int64:
		if err := e.int(v); err != nil {
			return err
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("xmlrpcapi: encode: %v cannot be sent", v)
		}
		e.b.WriteString("<double>" + strconv.FormatFloat(v, 'f', -1, 64) + "</double>")
	case string:
		e.b.WriteString("<string>")
		e.text(v)
		e.b.WriteString("</string>")
	case time.Time:
		e.b.WriteString("<dateTime.iso8601>" + v.UTC().Format("20060102T15:04:05") + "</dateTime.iso8601>")
	case []byte:
		e.b.WriteString("<base64>" + base64.StdEncoding.EncodeToString(v) + "</base64>")
	case []any:
		return encodeArray(e, v, depth)
	case []string:
		return encodeArray(e, v, depth)
	case [][]string:
		return encodeArray(e, v, depth)
	case []map[string]any:
		return encodeArray(e, v, depth)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s := make(Struct, len(keys))
		for i, k := range keys {
			s[i] = Member{k, v[k]}
		}
		e.b.Truncate(e.b.Len() - len("<value>"))
		return e.value(s, depth)
	case Struct:
		e.b.WriteString("<struct>")
		for _, m := range v {
			e.b.WriteString("<member><name>")
			e.text(m.Name)
			e.b.WriteString("</name>")
			if err := e.value(m.Value, depth+1); err != nil {
				return err
			}
			e.b.WriteString("</member>")
		}
		e.b.WriteString("</struct>")
	default:
		return fmt.Errorf("xmlrpcapi: encode: unsupported type %T", v)
	}
	e.b.WriteString("</value>")
	return nil
}

// encodeArray writes the rest of an array value whose <value> tag e.value
// has written: one implementation for every slice type of the value model,
// typed so that no reflection runs per element.
func encodeArray[T any](e *encoder, xs []T, depth int) error {
	e.b.WriteString("<array><data>")
	for _, x := range xs {
		if err := e.value(x, depth+1); err != nil {
			return err
		}
	}
	e.b.WriteString("</data></array></value>")
	return nil
}

func (e *encoder) int(n int64) error {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return fmt.Errorf("xmlrpcapi: encode: %d does not fit in a 32-bit <int>", n)
	}
	e.b.WriteString("<int>" + strconv.FormatInt(n, 10) + "</int>")
	return nil
}

// text writes s escaped for XML. Characters XML 1.0 cannot carry (most
// control characters, invalid UTF-8) become U+FFFD; '\r' is escaped so that
// it survives line-end normalisation.
func (e *encoder) text(s string) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '<':
			e.b.WriteString("&lt;")
		case r == '>':
			e.b.WriteString("&gt;")
		case r == '&':
			e.b.WriteString("&amp;")
		case r == '\r':
			e.b.WriteString("&#13;")
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\t' && r != '\n', r == 0xFFFE, r == 0xFFFF:
			e.b.WriteRune(utf8.RuneError)
		default:
			e.b.WriteRune(r)
		}
	}
}
