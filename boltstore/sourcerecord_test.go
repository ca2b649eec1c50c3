package boltstore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestSourceRecord: a record with many links is stored compressed and a
// small one as JSON; both, and the plain JSON records of files written
// before schema 3, read back the same; a damaged compressed record is an
// error, not a source.
func TestSourceRecord(t *testing.T) {
	big := sourceRecord{Title: "A page", EditURL: "https://cms.example.org/edit", Owner: "ed", Updated: 42}
	for i := range 100 {
		big.Links = append(big.Links, fmt.Sprintf("http://h%05d.example.org/page-%08d.html", i, i))
	}
	small := sourceRecord{Title: "t", Links: []string{"http://a.example/"}, Updated: 1}
	var c recordCodec
	for _, tc := range []struct {
		name       string
		r          sourceRecord
		compressed bool
	}{{"big", big, true}, {"small", small, false}} {
		v, err := c.encode(tc.r)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := json.Marshal(tc.r)
		if got := v[0] == compressedSource; got != tc.compressed {
			t.Fatalf("%s: compressed %v, want %v", tc.name, got, tc.compressed)
		}
		if tc.compressed && len(v)*3 > len(plain) {
			t.Fatalf("%s: %d bytes compressed, %d as JSON: less than a third saved", tc.name, len(v), len(plain))
		}
		// Twice each, the second time with the pooled reader; and
		// without a codec, as Open's conversions decode.
		for what, val := range map[string][]byte{"encoded": v, "JSON of schema 2": plain} {
			for _, codec := range []*recordCodec{&c, &c, nil} {
				got, err := codec.decode(val)
				if err != nil || !reflect.DeepEqual(got, tc.r) {
					t.Fatalf("%s, %s: decoded %+v, %v", tc.name, what, got, err)
				}
			}
		}
	}
	v, _ := c.encode(big)
	if _, err := c.decode(v[:len(v)/2]); err == nil {
		t.Fatal("a truncated compressed record decoded")
	}
	if got, err := c.decode(v); err != nil || !reflect.DeepEqual(got, big) {
		t.Fatalf("the pooled reader after a failed read: %+v, %v", got, err)
	}
}
