package xmlrpcapi

// The XML markup the lexer meets between elements: character and entity
// references, comments, CDATA, processing instructions and the XML
// declaration (whose encoding switches the reader).

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

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
