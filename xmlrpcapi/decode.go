package xmlrpcapi

// The decoder reads the subset of XML that XML-RPC uses straight from a
// bufio.Reader: no token objects, names compared in place, text decoded
// into one reused buffer. It allocates what it returns (each string once,
// exactly sized) and a few kilobytes of buffers: about 1× the body for a
// typical call, where encoding/xml allocated 8× (FuzzDecodeDifferential
// compares the two). It streams: a call's params can be read one by one,
// so the server checks credentials before it reads the rest of a body.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errSyntax wraps every decoding failure; callers answer it with
// FaultParse. Errors of the underlying reader (such as
// *http.MaxBytesError) are wrapped too.
var errSyntax = errors.New("malformed XML-RPC")

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSyntax, fmt.Sprintf(format, args...))
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
