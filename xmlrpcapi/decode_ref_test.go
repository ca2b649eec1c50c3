package xmlrpcapi

// The decoder as it was, on encoding/xml: kept as the oracle of
// FuzzDecodeDifferential, for the reading of XML (the hand-written lexer
// of decode.go against encoding/xml). What XML-RPC makes of a scalar's text
// (scalar) and the error type are the package's own, not a copy.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

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

// tok returns the next token that matters: comments and processing
// instructions are skipped, DTDs refused (no entity expansion).
func (p *refParser) tok() (xml.Token, error) {
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
func (p *refParser) element() (xml.Token, error) {
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

func (p *refParser) expectStart(name string) error { return p.expect("<" + name + ">") }

func (p *refParser) expectEnd(name string) error { return p.expect("</" + name + ">") }

// expect reads the next element, which must be tag ("<name>" or "</name>").
func (p *refParser) expect(tag string) error {
	t, err := p.element()
	if err != nil {
		return err
	}
	if got := refDescribe(t); got != tag {
		return syntaxErr("expected %s, got %s", tag, got)
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
				return "", syntaxErr("expected </%s>", name)
			}
			return b.String(), nil
		default:
			return "", syntaxErr("unexpected %s inside <%s>", refDescribe(t), name)
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
	if len(method) > maxMethodName {
		return "", nil, syntaxErr("methodName over %d bytes", maxMethodName)
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
		return "", nil, syntaxErr("expected </methodCall>, got %s", refDescribe(t))
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

func (p *refParser) params() ([]any, error) {
	out := []any{}
	err := p.children("param", func() error {
		if err := p.expectStart("value"); err != nil {
			return err
		}
		v, err := p.value(0)
		if err != nil {
			return err
		}
		out = append(out, v)
		return p.expectEnd("param")
	})
	return out, err
}

// children reads the elements inside the current one through its end tag:
// each must be a <child>, whose start tag f is called after.
func (p *refParser) children(child string, f func() error) error {
	for {
		t, err := p.element()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Local != child {
				return syntaxErr("expected <%s>, got %s", child, refDescribe(t))
			}
			if err := f(); err != nil {
				return err
			}
		}
	}
}

// value parses the inside of a <value> whose start tag was read, through
// its end tag.
func (p *refParser) value(depth int) (any, error) {
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
	return scalar(name, []byte(s))
}

func (p *refParser) array(depth int) ([]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, syntaxErr("nested deeper than %d", p.lim.MaxDepth)
	}
	if err := p.expectStart("data"); err != nil {
		return nil, err
	}
	out := []any{}
	if err := p.children("value", func() error {
		v, err := p.value(depth)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, p.expectEnd("array")
}

func (p *refParser) structure(depth int) (map[string]any, error) {
	if depth > p.lim.MaxDepth {
		return nil, syntaxErr("nested deeper than %d", p.lim.MaxDepth)
	}
	out := map[string]any{}
	err := p.children("member", func() error {
		if err := p.expectStart("name"); err != nil {
			return err
		}
		name, err := p.text("name")
		if err != nil {
			return err
		}
		if err := p.expectStart("value"); err != nil {
			return err
		}
		v, err := p.value(depth)
		if err != nil {
			return err
		}
		out[name] = v
		return p.expectEnd("member")
	})
	return out, err
}
