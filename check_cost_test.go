package lms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/linkmonitor/lms"
)

// BenchmarkCheckPage checks an ordinary HTML page (the detector's corpus,
// 2 KiB) and a 64 KiB one on a loopback server: what a check of a working
// page costs, the "alive but wrong" detector included.
func BenchmarkCheckPage(b *testing.B) {
	small, err := os.ReadFile("internal/softfail/testdata/ordinary/en-news.html")
	if err != nil {
		b.Fatal(err)
	}
	big := append([]byte("<html><head><title>Annual report</title></head><body>"), make([]byte, 0, 64<<10)...)
	for len(big) < 64<<10 {
		big = append(big, "<p>The council met on Tuesday to discuss the budget for the coming year and the plans for the new library.</p>\n"...)
	}
	big = append(big, "</body></html>"...)
	for _, tc := range []struct {
		name string
		page []byte
	}{{"2KiB", small}, {"64KiB", big}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write(tc.page)
			}))
			defer srv.Close()
			c := lms.NewDefaultChecker(lms.CheckerConfig{AllowPrivate: true})
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Check(context.Background(), srv.URL+"/news/2024/budget"); r.State != lms.StateOK {
					b.Fatalf("%s: %s", r.State, r.Reason)
				}
			}
		})
	}
}
