package xmlrpcapi

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// benchTriples is a registerURLs answer of 1,000 triples.
func benchTriples() [][]string {
	out := make([][]string, 1000)
	for i := range out {
		out[i] = []string{fmt.Sprintf("http://h%03d.example.org/page-%06d.html", i%100, i), "ok", "OK"}
	}
	return out
}

// BenchmarkEncodeResponse measures the encoder on the shapes the server
// answers with: registerURLs triples ([][]string), listURLs ([]string) and
// getURLStates structs.
func BenchmarkEncodeResponse(b *testing.B) {
	triples := benchTriples()
	urls := make([]string, len(triples))
	structs := make([]any, len(triples))
	for i, t := range triples {
		urls[i] = t[0]
		structs[i] = Struct{{"url", t[0]}, {"state", "ok"}, {"reason", "OK"}, {"code", 200},
			{"final_url", t[0]}, {"permanent_redirect", false}, {"response_time_ms", 12},
			{"last_checked", time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	}
	for name, v := range map[string]any{"triples": triples, "strings": urls, "structs": structs} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := EncodeResponse(v)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
}

// BenchmarkDecodeCall measures decoding a registerURLs call of 1,000 URLs
// and reports the bytes allocated per byte of body.
func BenchmarkDecodeCall(b *testing.B) {
	urls := make([]any, 1000)
	for i, t := range benchTriples() {
		urls[i] = t[0]
	}
	body, err := EncodeCall("registerURLs", "client", "password", urls)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := DecodeCall(bytes.NewReader(body), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
