package xmlrpcapi

// The decoder as it was, on encoding/xml: kept as the oracle of
// FuzzDecodeDifferential.

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html/charset"
)

type refParser struct {
	d      *xml.Decoder
	lim    Limits
	values int
}

func newRefParser(r io.Reader, lim Limits) *refParser {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = charset.NewReaderLabel
	return &refParser{d: d, lim: lim.withDefaults()}
}

func refSyntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSyntax, fmt.Sprintf(format, args...))
}

// tok returns the next token that matters: comments and processing
// instructions are skipped, DTDs refused (no entity expansion).
func (p *refParser) tok() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil, refSyntaxErr("unexpected end of document")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSyntax, err)
		}
		switch t := t.(type) {
		case xml.Comment, xml.ProcInst:
			continue
		case xml.Directive:
			return nil, refSyntaxErr("DTDs and directives are not allowed")
		case xml.CharData:
			return t.Copy(), nil
		default:
			return t, nil
		}
	}
}

// element returns the next start or end element, skipping whitespace.
func (p *refParser) element() (xml.Token, error) {
	for {
		t, err := p.tok()
		if err != nil {
			return nil, err
		}
		if cd, ok := t.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) != 0 {
				return nil, refSyntaxErr("unexpected text %.40q", cd)
			}
			continue
		}
		return t, nil
	}
}

func (p *refParser) expectStart(name string) error {
	t, err := p.element()
	if err != nil {
		return err
	}
	if s, ok := t.(xml.StartElement); !ok || s.Name.Local != name {
		return refSyntaxErr("expected <%s>, got %s", name, refDescribe(t))
	}
	return nil
}

func (p *refParser) expectEnd(name string) error {
	t, err := p.element()
	if err != nil {
		return err
	}
	if e, ok := t.(xml.EndElement); !ok || e.Name.Local != name {
		return refSyntaxErr("expected </%s>, got %s", name, refDescribe(t))
	}
	return nil
}

func refDescribe(t xml.Token) string {
	switch t := t.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	}
	return fmt.Sprintf("%T", t)
}

// text reads character data up to the end of the current element.
func (p *refParser) text(name string) (string, error) {
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
				return "", refSyntaxErr("expected </%s>", name)
			}
			return b.String(), nil
		default:
			return "", refSyntaxErr("unexpected %s inside <%s>", refDescribe(t), name)
		}
	}
}

// refDecodeCall reads a methodCall.
func refDecodeCall(r io.Reader, lim Limits) (method string, params []any, err error) {
	p := newRefParser(r, lim)
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
		return "", nil, refSyntaxErr("empty methodName")
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
		return "", nil, refSyntaxErr("expected </methodCall>, got %s", refDescribe(t))
	}
	return method, params, p.end()
}

// end checks that nothing but whitespace and comments follows.
func (p *refParser) end() error {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return refSyntaxErr("%v", err)
		}
		switch t := t.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return refSyntaxErr("text after the document")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return refSyntaxErr("content after the document")
		}
	}
}

func (p *refParser) params() ([]any, error) {
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
				return nil, refSyntaxErr("expected <param>, got %s", refDescribe(t))
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

// refDecodeResponse reads a methodResponse: its value, or a *Fault error.
func refDecodeResponse(r io.Reader, lim Limits) (any, error) {
	p := newRefParser(r, lim)
	if err := p.expectStart("methodResponse"); err != nil {
		return nil, err
	}
	t, err := p.element()
	if err != nil {
		return nil, err
	}
	s, ok := t.(xml.StartElement)
	if !ok {
		return nil, refSyntaxErr("empty methodResponse")
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
			return nil, refSyntaxErr("a response has exactly one param, got %d", len(ps))
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
			return nil, refSyntaxErr("fault is not a struct of faultCode and faultString")
		}
		fault = &Fault{Code: int(code), String: msg}
		if err := p.expectEnd("fault"); err != nil {
			return nil, err
		}
	default:
		return nil, refSyntaxErr("unexpected <%s> in methodResponse", s.Name.Local)
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
func (p *refParser) value(depth int) (any, error) {
	p.values++
	if p.values > p.lim.MaxValues {
		return nil, refSyntaxErr("more than %d values", p.lim.MaxValues)
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
				return nil, refSyntaxErr("expected </value>")
			}
			return text.String(), nil // untyped: a string
		case xml.StartElement:
			if strings.TrimSpace(text.String()) != "" {
				return nil, refSyntaxErr("text mixed with <%s>", t.Name.Local)
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
func refDateLayouts() []string {
	return []string{
		"20060102T15:04:05", "20060102T150405", "2006-01-02T15:04:05", "20060102T15:04:05Z07:00",
		"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00",
		"20060102T15:04:05.999999999", "20060102T15:04:05.999999999Z07:00",
	}
}

func (p *refParser) typed(name string, depth int) (any, error) {
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
			return nil, refSyntaxErr("bad <%s> %.40q", name, s)
		}
		return n, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, refSyntaxErr("bad <boolean> %.40q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, refSyntaxErr("bad <double> %.40q", s)
		}
		return f, nil
	case "dateTime.iso8601":
		s = strings.TrimSpace(s)
		for _, layout := range refDateLayouts() {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, refSyntaxErr("bad <dateTime.iso8601> %.40q", s)
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Map(refDropSpace, s))
		if err != nil {
			return nil, refSyntaxErr("bad <base64>: %v", err)
		}
		return b, nil
	}
	return nil, refSyntaxErr("unknown type <%s>", name)
}

func refDropSpace(r rune) rune {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return -1
	}
	return r
}

func (p *refParser) array(depth int) ([]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, refSyntaxErr("nested deeper than %d", p.lim.MaxDepth)
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
				return nil, refSyntaxErr("expected <value> in array, got %s", refDescribe(t))
			}
			v, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
}

func (p *refParser) structure(depth int) (map[string]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, refSyntaxErr("nested deeper than %d", p.lim.MaxDepth)
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
				return nil, refSyntaxErr("expected <member>, got %s", refDescribe(t))
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
