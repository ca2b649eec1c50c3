package softfail

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// appendNorm appends s to dst as normalised words: lower case, accents
// folded away (é→e, ß→ss), apostrophes unified and kept inside words
// (can't, n'existe), everything else a single space. dst keeps a trailing
// space so that calls can be chained; phrases are matched as " word word "
// against it.
func appendNorm(dst []byte, s string) []byte {
	if len(dst) == 0 || dst[len(dst)-1] != ' ' {
		dst = append(dst, ' ')
	}
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		if c < utf8.RuneSelf {
			r, i = rune(c), i+1
		} else {
			var n int
			r, n = utf8.DecodeRuneInString(s[i:])
			i += n
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			dst = append(dst, byte(r))
		case r >= 'A' && r <= 'Z':
			dst = append(dst, byte(r)+'a'-'A')
		case r == '\'' || r == '\u2019' || r == '\u2018' || r == '\u02bc' || r == '`' || r == '\u00b4':
			// kept only between letters: a quote mark becomes a space
			if n := len(dst); n > 0 && dst[n-1] != ' ' && i < len(s) && wordStart(s[i:]) {
				dst = append(dst, '\'')
			} else if n > 0 && dst[n-1] != ' ' {
				dst = append(dst, ' ')
			}
		case r < utf8.RuneSelf:
			if dst[len(dst)-1] != ' ' {
				dst = append(dst, ' ')
			}
		default:
			if f := foldRune(r); f != "" {
				dst = append(dst, f...)
			} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
				dst = utf8.AppendRune(dst, unicode.ToLower(r))
			} else if dst[len(dst)-1] != ' ' {
				dst = append(dst, ' ')
			}
		}
	}
	if dst[len(dst)-1] != ' ' {
		dst = append(dst, ' ')
	}
	return dst
}

// wordStart reports whether s begins with a letter.
func wordStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

// norm returns s as normalised words with a space on each side.
func norm(s string) string {
	return string(appendNorm(nil, s))
}

// foldRune returns the base letters of an accented Latin letter (either
// case), or "" for any other rune.
func foldRune(r rune) string {
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'À', 'Á', 'Â', 'Ã', 'Ä', 'Å':
		return "a"
	case 'ç', 'Ç':
		return "c"
	case 'è', 'é', 'ê', 'ë', 'È', 'É', 'Ê', 'Ë':
		return "e"
	case 'ì', 'í', 'î', 'ï', 'Ì', 'Í', 'Î', 'Ï':
		return "i"
	case 'ñ', 'Ñ':
		return "n"
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'Ò', 'Ó', 'Ô', 'Õ', 'Ö', 'Ø':
		return "o"
	case 'ù', 'ú', 'û', 'ü', 'Ù', 'Ú', 'Û', 'Ü':
		return "u"
	case 'ý', 'ÿ', 'Ý':
		return "y"
	case 'ß':
		return "ss"
	case 'œ', 'Œ':
		return "oe"
	case 'æ', 'Æ':
		return "ae"
	}
	return ""
}

// latin1 returns b read as Windows-1252 (as browsers read a page that
// declares no charset), for bodies that are not valid UTF-8.
func latin1(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		switch {
		case c < 0x80:
			out = append(out, c)
		case c == 0x92 || c == 0x91:
			out = utf8.AppendRune(out, '\u2019')
		case c < 0xa0:
			out = append(out, ' ')
		default:
			out = utf8.AppendRune(out, rune(c))
		}
	}
	return out
}

// has reports whether the normalised text t (with its spaces) holds the
// phrase p (normalised words without outer spaces).
func has(t, p string) bool {
	i := strings.Index(t, p)
	for i >= 0 {
		if i > 0 && t[i-1] == ' ' && i+len(p) < len(t) && t[i+len(p)] == ' ' {
			return true
		}
		j := strings.Index(t[i+1:], p)
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// segments splits a title at the separators sites put between a page's
// name and the site's (" | ", " - ", " – ", " — ", " · ", " : ", " :: ",
// " » ", " • ") and returns the parts.
func segments(title string) []string {
	parts := []string{title}
	for _, sep := range []string{" | ", " - ", " – ", " — ", " · ", ": ", " :: ", " » ", " • ", " « "} {
		var next []string
		for _, p := range parts {
			next = append(next, strings.Split(p, sep)...)
		}
		parts = next
	}
	return parts
}

// statement reports whether the short text s (a title segment or a
// heading) is nothing but a statement from cores, dressed only in words of
// fillers: "Oops! That page can't be found." is one, "How to fix a 404
// not found error" is not (how, fix). A segment of fillers alone that holds
// "404" ("Error 404") is one too.
func statement(s string, cores [][]string, fillers map[string]bool) bool {
	w := strings.Fields(norm(s))
	if len(w) == 0 || len(w) > 16 {
		return false
	}
	if slices.Contains(w, "404") && allFillers(w, fillers) {
		return true
	}
	for _, c := range cores {
		if !slices.Contains(w, c[0]) {
			continue
		}
		for i := 0; i+len(c) <= len(w); i++ {
			if slices.Equal(w[i:i+len(c)], c) &&
				allFillers(w[:i], fillers) && allFillers(w[i+len(c):], fillers) {
				return true
			}
		}
	}
	return false
}

// allFillers reports whether every word of w is a filler.
func allFillers(w []string, fillers map[string]bool) bool {
	for _, x := range w {
		if !fillers[x] {
			return false
		}
	}
	return true
}

// maxWords bounds the words of a page kept for comparing it with a probe.
const maxWords = 4096

// wordHashes returns the hashes of the words of the normalised text t,
// leaving out numbers (dates, counters change between two answers), at most
// maxWords of them.
func wordHashes(t string) []uint32 {
	var out []uint32
	for w := range strings.FieldsSeq(t) {
		if isNumber(w) {
			continue
		}
		if len(out) == maxWords {
			break
		}
		out = append(out, hash32(w))
	}
	return out
}

// hash32 returns the FNV-1a hash of a word.
func hash32(w string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(w); i++ {
		h ^= uint32(w[i])
		h *= 16777619
	}
	return h
}

// phrase is a phrase of normalised words and their hashes, so that a page
// that lacks one of its words rejects it without a scan.
type phrase struct {
	text   string
	hashes []uint32
}

// compile returns the phrases with their word hashes.
func compile(ps ...string) []phrase {
	out := make([]phrase, len(ps))
	for i, p := range ps {
		out[i].text = p
		for w := range strings.FieldsSeq(p) {
			out[i].hashes = append(out[i].hashes, hash32(w))
		}
	}
	return out
}

// texts returns the phrases' text.
func texts(ps []phrase) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.text
	}
	return out
}

// bag is a normalised text with a 4096-bit filter of its words: a phrase
// with a word whose bit is clear is not in the text.
type bag struct {
	t    string
	bits [64]uint64
}

// newBag returns the bag of the normalised text t.
func newBag(t string) *bag {
	b := &bag{t: t}
	for w := range strings.FieldsSeq(t) {
		h := hash32(w) & 4095
		b.bits[h>>6] |= 1 << (h & 63)
	}
	return b
}

// mayHave reports whether every word of p may be in the text.
func (b *bag) mayHave(p phrase) bool {
	for _, h := range p.hashes {
		h &= 4095
		if b.bits[h>>6]&(1<<(h&63)) == 0 {
			return false
		}
	}
	return true
}

// has reports whether the text holds p.
func (b *bag) has(p phrase) bool {
	return b.mayHave(p) && has(b.t, p.text)
}

// first returns the first of ps that the text holds, or "".
func (b *bag) first(ps []phrase) string {
	for _, p := range ps {
		if b.has(p) {
			return p.text
		}
	}
	return ""
}

// shingles returns the sorted distinct 3-word runs of words, leaving out
// words in echo: the words of both requested paths, which a soft-404 page
// often repeats ("The page /old/page was not found"), as in Bar-Yossef et
// al.
func shingles(words []uint32, echo map[uint32]bool) []uint64 {
	kept := make([]uint32, 0, len(words))
	for _, w := range words {
		if !echo[w] {
			kept = append(kept, w)
		}
	}
	var out []uint64
	for i := 0; i+3 <= len(kept); i++ {
		x := uint64(kept[i])<<32 | uint64(kept[i+1])
		out = append(out, x*0x9e3779b97f4a7c15^uint64(kept[i+2]))
	}
	if len(out) == 0 && len(kept) > 0 {
		var x uint64
		for _, w := range kept {
			x = x*0x100000001b3 ^ uint64(w)
		}
		out = append(out, x)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// isNumber reports whether w is made of digits only.
func isNumber(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return w != ""
}

// jaccard returns |a∩b| / |a∪b| of two sorted sets; 1 for two empty sets.
func jaccard(a, b []uint64) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	var both int
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			both++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}
