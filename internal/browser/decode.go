package browser

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
)

// Decode returns body decoded as a browser decodes a body with this
// Content-Encoding: gzip and deflate (zlib-wrapped or raw), up to the end
// of the first compressed stream (what follows it, such as a caching
// plugin's comment, is ignored) and without holding a wrong checksum
// against a page that decoded whole. Other encodings (brotli, zstd) and
// none come back as they are.
func Decode(contentEncoding string, body io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return checksumBlind{zr}, nil
	case "deflate":
		br := bufio.NewReader(body)
		if b, err := br.Peek(2); err == nil && b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, err
			}
			return checksumBlind{zr}, nil
		}
		return flate.NewReader(br), nil
	}
	return body, nil
}

// checksumBlind ends a decompressed body at a checksum mismatch as at its
// end: the data decoded whole, and browsers show it.
type checksumBlind struct{ r io.Reader }

// Read implements io.Reader.
func (c checksumBlind) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, zlib.ErrChecksum) {
		err = io.EOF
	}
	return n, err
}
