package boltstore

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/linkmonitor/lms"
)

// sourceRecord is a source as bSources keeps it: JSON, compressed with
// flate behind the byte 'z' when that makes it smaller (schema 3; a
// record of an earlier file is plain JSON, which starts with '{'). A
// page's list of a hundred URLs then takes a third of its size or less,
// so it fits a page of the file instead of a run of overflow pages that
// every put of a source would write.
type sourceRecord struct {
	Title   string   `json:"t,omitempty"`
	EditURL string   `json:"e,omitempty"`
	Owner   string   `json:"o,omitempty"`
	Links   []string `json:"l,omitempty"`
	Updated int64    `json:"u"`
}

func (r sourceRecord) source(id string) lms.Source {
	return lms.Source{
		SourceRef: lms.SourceRef{ID: id, Title: r.Title, EditURL: r.EditURL, Owner: r.Owner},
		Links:     r.Links, Updated: fromNanos(r.Updated),
	}
}

// compressedSource marks a compressed record.
const compressedSource = 'z'

// recordCodec encodes and decodes source records with pooled flate
// writers and readers: a new writer allocates about a megabyte, which
// would cost a put more than the rest of it.
type recordCodec struct {
	writers, readers sync.Pool
}

// encode returns the bSources value of r.
func (c *recordCodec) encode(r sourceRecord) ([]byte, error) {
	j, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(j) < 256 {
		return j, nil // too small to gain
	}
	var buf bytes.Buffer
	buf.Grow(len(j)/2 + 1)
	buf.WriteByte(compressedSource)
	w, _ := c.writers.Get().(*flate.Writer)
	if w == nil {
		if w, err = flate.NewWriter(&buf, flate.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		w.Reset(&buf)
	}
	defer c.writers.Put(w)
	if _, err := w.Write(j); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(j) {
		return j, nil
	}
	return buf.Bytes(), nil
}

// decode reads a bSources value, compressed or not. It does not alias v.
// A nil c decodes without pooling.
func (c *recordCodec) decode(v []byte) (sourceRecord, error) {
	var r sourceRecord
	if len(v) > 0 && v[0] == compressedSource {
		src := bytes.NewReader(v[1:])
		var rd io.ReadCloser
		if c != nil {
			rd, _ = c.readers.Get().(io.ReadCloser)
		}
		if rd == nil {
			rd = flate.NewReader(src)
		} else if err := rd.(flate.Resetter).Reset(src, nil); err != nil {
			return r, fmt.Errorf("source record: %w", err)
		}
		j, err := io.ReadAll(rd)
		if c != nil {
			c.readers.Put(rd)
		}
		if err != nil {
			return r, fmt.Errorf("source record: %w", err)
		}
		v = j
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("source record: %w", err)
	}
	return r, nil
}
