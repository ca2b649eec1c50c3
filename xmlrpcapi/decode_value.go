package xmlrpcapi

// The XML-RPC values: scalars, arrays (streamed element by element) and
// structs, each bounded by the Limits.

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"time"
)

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
