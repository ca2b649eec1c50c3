package softfail

import (
	"bufio"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// probeName is the made-up name the corpus's probes are asked for.
const probeName = "kqzmwuvxbrtyplneahcd"

// corpusCase is one line of testdata/corpus.tsv.
type corpusCase struct {
	file, url, ctype, probe string
	status                  int
	want                    Kind
	strength                Strength
}

// readCorpus reads testdata/corpus.tsv.
func readCorpus(t testing.TB) []corpusCase {
	t.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 7 {
			t.Fatalf("corpus.tsv:%d: %d fields, want 7", n, len(c))
		}
		st, err := strconv.Atoi(c[2])
		if err != nil {
			t.Fatalf("corpus.tsv:%d: status %q", n, c[2])
		}
		cc := corpusCase{file: c[0], url: c[1], status: st, ctype: c[3], probe: c[4],
			want: kindNamed(t, c[5]), strength: strengthNamed(t, c[6])}
		if cc.url == "-" {
			cc.url = defaultURL(cc.file)
		}
		out = append(out, cc)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// defaultURL is the link of a corpus page that names none: a deep link on
// a host named after the file.
func defaultURL(file string) string {
	base := strings.TrimSuffix(path.Base(file), path.Ext(file))
	return "https://www." + base + ".example/section/" + base
}

func kindNamed(t testing.TB, s string) Kind {
	for k := None; k <= Suspended; k++ {
		if k.String() == s {
			return k
		}
	}
	t.Fatalf("unknown kind %q", s)
	return None
}

func strengthNamed(t testing.TB, s string) Strength {
	for _, st := range []Strength{Unsure, Weak, Confirmed} {
		if st.String() == s {
			return st
		}
	}
	t.Fatalf("unknown strength %q", s)
	return Unsure
}

// loadPage reads a corpus file as the answer to link.
func loadPage(t testing.TB, file, link string, status int, ctype string) *Page {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if ctype == "-" || ctype == "" {
		ctype = "text/html; charset=utf-8"
	}
	return &Page{URL: link, Status: status, Header: http.Header{"Content-Type": {ctype}}, Body: body}
}

// probeFor returns the probe answer a corpus case names, or nil.
func probeFor(t testing.TB, c corpusCase) *Page {
	t.Helper()
	if c.probe == "-" {
		return nil
	}
	u, err := probeURL(c.url, probeName)
	if err != nil {
		t.Fatal(err)
	}
	if c.probe == "404" {
		return loadPage(t, "probe/real404.html", u, 404, "-")
	}
	return loadPage(t, c.probe, u, 200, "-")
}

// TestCorpus checks every listed page against its expected verdict.
func TestCorpus(t *testing.T) {
	for _, c := range readCorpus(t) {
		t.Run(c.file+"/probe="+c.probe, func(t *testing.T) {
			p := loadPage(t, c.file, c.url, c.status, c.ctype)
			got := Detect(p, probeFor(t, c))
			if got.Kind != c.want || got.Strength != c.strength {
				t.Errorf("Detect = %s/%s %v, want %s/%s", got.Kind, got.Strength, got.Evidence, c.want, c.strength)
			}
			if got.Found() && got.Reason == "" {
				t.Error("a verdict without a reason")
			}
			if !got.Found() && (got.Reason != "" || got.Strength != Unsure) {
				t.Errorf("none with reason %q, strength %s", got.Reason, got.Strength)
			}
		})
	}
}

// lookAlikes returns the pages under ordinary/ (with the holdout's ok-*
// pages) and controls/, each with its link (the manifest's, or a default):
// every one must stay none.
func lookAlikes(t testing.TB) (ordinary, controls []string, links map[string]string) {
	t.Helper()
	links = map[string]string{}
	for _, c := range readCorpus(t) {
		if strings.HasPrefix(c.file, "ordinary/") || strings.HasPrefix(c.file, "controls/") {
			if c.want != None {
				t.Fatalf("%s: a look-alike listed as %s", c.file, c.want)
			}
			links[c.file] = c.url
		}
	}
	for _, dir := range []string{"ordinary", "controls", "holdout"} {
		ents, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			f := dir + "/" + e.Name()
			if dir == "holdout" && !strings.HasPrefix(e.Name(), "ok-") {
				continue
			}
			if links[f] == "" {
				links[f] = defaultURL(f)
			}
			if dir != "controls" {
				ordinary = append(ordinary, f)
			} else {
				controls = append(controls, f)
			}
		}
	}
	return ordinary, controls, links
}

// TestNoFalseAlarms is the false-positive test: no ordinary page and no
// look-alike control is flagged, without a probe or with a probe that the
// host answers with a real 404. It reports the rate and how many pages
// would ask for a probe (an extra request).
func TestNoFalseAlarms(t *testing.T) {
	ordinary, controls, links := lookAlikes(t)
	if len(ordinary) < 60 {
		t.Fatalf("%d ordinary pages, want at least 60", len(ordinary))
	}
	var flagged, doubted int
	for _, f := range slices.Concat(ordinary, controls) {
		link := links[f]
		p := loadPage(t, f, link, 200, "-")
		a := Analyze(p)
		if a.Doubt() {
			doubted++
			t.Logf("%s would ask for a probe: %v", f, a.doubts)
		}
		pu, _ := probeURL(link, probeName)
		probe := Analyze(loadPage(t, "probe/real404.html", pu, 404, "-"))
		for _, v := range []Verdict{a.Verdict(nil), a.Verdict(probe)} {
			if v.Found() {
				flagged++
				t.Errorf("%s: flagged %s/%s %v (%s)", f, v.Kind, v.Strength, v.Evidence, v.Reason)
				break
			}
		}
	}
	n := len(ordinary) + len(controls)
	t.Logf("false positives: %d of %d pages (%d ordinary, %d look-alike controls); %d would ask for a probe",
		flagged, n, len(ordinary), len(controls), doubted)
}

// TestCorpusComplete checks that every file under testdata is used, so that
// no page is written and forgotten.
func TestCorpusComplete(t *testing.T) {
	used := map[string]bool{"corpus.tsv": true, "probe/real404.html": true}
	for _, c := range readCorpus(t) {
		used[c.file] = true
		if c.probe != "-" && c.probe != "404" {
			used[c.probe] = true
		}
	}
	err := fs.WalkDir(os.DirFS("testdata"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !used[p] && !strings.HasPrefix(p, "ordinary/") && !strings.HasPrefix(p, "controls/") &&
			!strings.HasPrefix(p, "holdout/ok-") {
			t.Errorf("testdata/%s is in no test", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDetectionRate reports the share of wrong pages found without a
// probe, per class.
func TestDetectionRate(t *testing.T) {
	type tally struct{ n, found, confirmed int }
	per := map[Kind]*tally{}
	for _, c := range readCorpus(t) {
		if c.want == None || c.probe != "-" {
			continue
		}
		v := Detect(loadPage(t, c.file, c.url, c.status, c.ctype), nil)
		tl := per[c.want]
		if tl == nil {
			tl = &tally{}
			per[c.want] = tl
		}
		tl.n++
		if v.Kind == c.want {
			tl.found++
			if v.Strength == Confirmed {
				tl.confirmed++
			}
		}
	}
	for k := Soft404; k <= Suspended; k++ {
		if tl := per[k]; tl != nil {
			t.Logf("%-13s %2d pages: %2d found (%d confirmed) without a probe", k, tl.n, tl.found, tl.confirmed)
		}
	}
}
