package softfail

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
)

// corpusPages returns every page of the corpus as the answer to a deep
// link.
func corpusPages(tb testing.TB) []*Page {
	tb.Helper()
	var pages []*Page
	err := fs.WalkDir(os.DirFS("testdata"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		pages = append(pages, loadPage(tb, p, defaultURL(p), 200, "-"))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return pages
}

// BenchmarkDetect measures the cost of one page of the corpus (each
// operation is one page, round robin), without a probe.
func BenchmarkDetect(b *testing.B) {
	pages := corpusPages(b)
	var bytesTotal int
	for _, p := range pages {
		bytesTotal += len(p.Body)
	}
	b.SetBytes(int64(bytesTotal / len(pages)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Detect(pages[i%len(pages)], nil)
	}
}

// BenchmarkDetectLarge measures a page of MaxBody bytes (a long article),
// the most one page can cost.
func BenchmarkDetectLarge(b *testing.B) {
	p := largePage(b, MaxBody)
	b.SetBytes(int64(len(p.Body)))
	b.ReportAllocs()
	for b.Loop() {
		Detect(p, nil)
	}
}

// BenchmarkDetect64K measures a page of 64 KiB, what the HTTP checker
// keeps of a body today.
func BenchmarkDetect64K(b *testing.B) {
	p := largePage(b, 64<<10)
	b.SetBytes(int64(len(p.Body)))
	b.ReportAllocs()
	for b.Loop() {
		Detect(p, nil)
	}
}

// BenchmarkVerdictWithProbe measures the comparison with a cached probe
// analysis (the page's own analysis included).
func BenchmarkVerdictWithProbe(b *testing.B) {
	page := loadPage(b, "probe/oops.html", "https://acmewidgets.example/support/manuals/wx-200-quickstart", 200, "-")
	pu, _ := probeURL(page.URL, probeName)
	probe := Analyze(loadPage(b, "probe/oops-probe.html", pu, 200, "-"))
	b.ReportAllocs()
	for b.Loop() {
		Analyze(page).Verdict(probe)
	}
}

// largePage is an ordinary article repeated up to size bytes.
func largePage(tb testing.TB, size int) *Page {
	tb.Helper()
	p := loadPage(tb, "ordinary/en-news.html", "https://valleycourier.example/local/a", 200, "-")
	start := bytes.Index(p.Body, []byte("<article>"))
	end := bytes.Index(p.Body, []byte("</article>"))
	var body bytes.Buffer
	body.Write(p.Body[:start])
	for body.Len() < size-2048 {
		body.Write(p.Body[start:end])
	}
	body.WriteString("</article></main></body></html>")
	p.Body = body.Bytes()
	return p
}

// TestBounded checks that a body beyond MaxBody is not read: a huge page
// gives exactly the analysis of its first MaxBody bytes, and what an
// Analysis keeps stays within its bounds.
func TestBounded(t *testing.T) {
	big := bytes.Repeat([]byte("<div><p>not found <a href='x'>page</a> lorem ipsum dolor "), (4*MaxBody)/58+1)
	full := &Page{URL: "https://example.org/a/b", Status: 200, Body: big}
	capped := &Page{URL: "https://example.org/a/b", Status: 200, Body: big[:MaxBody]}
	a, b := Analyze(full), Analyze(capped)
	if !reflect.DeepEqual(a, b) {
		t.Error("a body beyond MaxBody changed the analysis")
	}
	if len(a.words) > maxWords || len(a.echo) > 64 || len(a.cands) > 8 || len(a.doubts) > 8 {
		t.Errorf("analysis too big: %d words, %d echo, %d cands, %d doubts", len(a.words), len(a.echo), len(a.cands), len(a.doubts))
	}
}

// FuzzAnalyze checks that no input makes the detector panic or keep more
// than its bounds, and that a verdict always has a reason.
func FuzzAnalyze(f *testing.F) {
	for _, p := range corpusPages(f) {
		f.Add(p.Body, p.URL, "", "text/html")
	}
	f.Add([]byte("404 page not found"), "https://example.org/a", "", "text/plain")
	f.Add([]byte("<title>x</title><h1>"), "https://example.org/a/b", "https://example.org/", "")
	f.Add([]byte{0xff, 0xfe, 0x00, '<'}, "http://[::1]:80/%zz", "mailto:x", "text/html; charset=")
	f.Fuzz(func(t *testing.T, body []byte, link, final, ctype string) {
		p := &Page{URL: link, Status: 200, Header: http.Header{"Content-Type": {ctype}}, Body: body}
		if final != "" {
			p.Hops = []Hop{{From: link, Status: 302, Location: final, To: final}}
		}
		a := Analyze(p)
		if len(a.words) > maxWords || len(a.cands) > 8 {
			t.Fatalf("analysis too big: %d words, %d cands", len(a.words), len(a.cands))
		}
		for _, probe := range []*Analysis{nil, a, Analyze(&Page{URL: link, Status: 404})} {
			v := a.Verdict(probe)
			if v.Found() != (v.Reason != "") || v.Found() != (v.Strength != Unsure) {
				t.Fatalf("inconsistent verdict %+v", v)
			}
		}
		_, _ = ProbeURL(link)
	})
}
