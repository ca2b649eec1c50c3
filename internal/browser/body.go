package browser

// BodyScan consumes a body (it is an io.Writer): it keeps the first Keep
// bytes in Head (for bot-wall markers, a meta refresh) and notes in End
// whether the page's closing </html> tag went by, however the writes split
// it.
type BodyScan struct {
	Keep  int
	Head  []byte
	End   bool
	Ended func() // called once when End turns true; nil: not called
	carry []byte // the last bytes of the previous write, for a tag split across writes
}

const closingTag = "</html"

// Write implements io.Writer; it never fails.
func (s *BodyScan) Write(p []byte) (int, error) {
	if n := min(len(p), s.Keep-len(s.Head)); n > 0 {
		s.Head = append(s.Head, p[:n]...)
	}
	if !s.End {
		const k = len(closingTag) - 1
		s.End = containsFold(append(s.carry, p[:min(len(p), k)]...), closingTag) || containsFold(p, closingTag)
		if s.End && s.Ended != nil {
			s.Ended()
		}
		if len(p) >= k {
			s.carry = append(s.carry[:0], p[len(p)-k:]...)
		} else {
			s.carry = append(s.carry, p...)
			s.carry = s.carry[max(0, len(s.carry)-k):]
		}
	}
	return len(p), nil
}

// containsFold reports whether b contains pat (ASCII lower case), ignoring
// ASCII case.
func containsFold(b []byte, pat string) bool {
	for i := 0; i+len(pat) <= len(b); i++ {
		j := 0
		for j < len(pat) && lowerASCII(b[i+j]) == pat[j] {
			j++
		}
		if j == len(pat) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
