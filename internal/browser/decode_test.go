package browser

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"testing"
)

const page = "<!DOCTYPE html><html><head><title>t</title></head><body>hello world</body></html>\n"

// Bodies decoded as browsers decode them: the first gzip member only (a
// caching plugin's comment or PHP's newline after it is ignored, as
// Chromium's GzipSourceStream ignores extra bytes), a wrong CRC-32 not held
// against a page that inflated whole (Chromium does not check the footer),
// deflate with or without its zlib wrapper.
func TestDecode(t *testing.T) {
	t.Parallel()
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	badCRC := gz(page)
	badCRC[len(badCRC)-8] ^= 0xff
	var zl, raw bytes.Buffer
	zw := zlib.NewWriter(&zl)
	_, _ = zw.Write([]byte(page))
	_ = zw.Close()
	fw, _ := flate.NewWriter(&raw, flate.DefaultCompression)
	_, _ = fw.Write([]byte(page))
	_ = fw.Close()
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		want           string
	}{
		{"gzip, a timing comment after the stream", "gzip", append(gz(page), "<!-- generated in 0.02 s -->\n"...), page},
		{"gzip json, a trailing newline", "gzip", append(gz(`{"ok":true}`), '\n'), `{"ok":true}`},
		{"gzip, wrong CRC-32", "gzip", badCRC, page},
		{"x-gzip", " X-Gzip ", gz(page), page},
		{"deflate in zlib", "deflate", zl.Bytes(), page},
		{"raw deflate", "deflate", raw.Bytes(), page},
		{"none", "", []byte(page), page},
		{"brotli stays encoded", "br", []byte("\x1b\x00"), "\x1b\x00"},
	} {
		r, err := Decode(tc.encoding, bytes.NewReader(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := Decode("gzip", strings.NewReader("not gzip")); err == nil {
		t.Error("a gzip body that is no gzip decoded")
	}
}
