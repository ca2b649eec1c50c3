package xmlrpcapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func call(body string) (string, []any, error) {
	return DecodeCall(strings.NewReader(body), Limits{})
}

func TestDecodeValues(t *testing.T) {
	body := `<?xml version='1.0'?>
<!-- a comment -->
<methodCall>
<methodName>m</methodName>
<params>
<param><value>untyped  text </value></param>
<param><value><string>typed</string></value></param>
<param><value><int>-7</int></value></param>
<param><value><i4>2147483647</i4></value></param>
<param><value><i8>9007199254740993</i8></value></param>
<param><value><ex:i8 xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">5</ex:i8></value></param>
<param><value><boolean>1</boolean></value></param>
<param><value><double>-1.5</double></value></param>
<param><value><nil/></value></param>
<param><value><ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/></value></param>
<param><value></value></param>
<param><value/></param>
<param><value><string/></value></param>
<param><value><base64>aGVs
bG8g
d29y bGQ=</base64></value></param>
<param><value><dateTime.iso8601>20261123T12:30:00</dateTime.iso8601></value></param>
<param><value><dateTime.iso8601>2026-11-23T12:30:00+01:00</dateTime.iso8601></value></param>
<param><value><array><data><value>a</value><value><array><data/></array></value><value><struct/></value></data></array></value></param>
<param><value><struct><member><name>k</name><value><int>1</int></value></member><member><name>e</name><value/></member></struct></value></param>
<param><value>a &amp; b &lt; &#233; &#13;</value></param>
</params>
</methodCall>
`
	m, ps, err := call(body)
	require.NoError(t, err)
	require.Equal(t, "m", m)
	want := []any{
		"untyped  text ", "typed", int64(-7), int64(2147483647), int64(9007199254740993), int64(5), true, -1.5, nil, nil,
		"", "", "", []byte("hello world"),
		time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 11, 30, 0, 0, time.UTC),
		[]any{"a", []any{}, map[string]any{}},
		map[string]any{"k": int64(1), "e": ""},
		"a & b < é \r",
	}
	require.Len(t, ps, len(want))
	for i := range want {
		if tm, ok := want[i].(time.Time); ok {
			require.True(t, tm.Equal(ps[i].(time.Time)), "param %d: %v", i, ps[i])
			continue
		}
		require.Equal(t, want[i], ps[i], "param %d", i)
	}
}

func TestDecodeNoParams(t *testing.T) {
	m, ps, err := call(`<methodCall><methodName>system.listMethods</methodName></methodCall>`)
	require.NoError(t, err)
	require.Equal(t, "system.listMethods", m)
	require.Empty(t, ps)
}

func TestDecodeLatin1(t *testing.T) {
	body := append([]byte(`<?xml version="1.0" encoding="iso-8859-1"?><methodCall><methodName>m</methodName><params><param><value><string>`), 0xe9, 0xfc)
	body = append(body, []byte(`</string></value></param></params></methodCall>`)...)
	_, ps, err := DecodeCall(bytes.NewReader(body), Limits{})
	require.NoError(t, err)
	require.Equal(t, []any{"éü"}, ps)
}

func TestDecodeRejects(t *testing.T) {
	deep := strings.Repeat("<value><array><data>", 100) + strings.Repeat("</data></array></value>", 100)
	cases := map[string]string{
		"not xml":         `hello`,
		"truncated":       `<methodCall><methodName>m</methodName><params>`,
		"wrong root":      `<methodResponse/>`,
		"empty name":      `<methodCall><methodName> </methodName></methodCall>`,
		"bad int":         `<methodCall><methodName>m</methodName><params><param><value><int>x</int></value></param></params></methodCall>`,
		"bad bool":        `<methodCall><methodName>m</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>`,
		"bad base64":      `<methodCall><methodName>m</methodName><params><param><value><base64>!!</base64></value></param></params></methodCall>`,
		"bad date":        `<methodCall><methodName>m</methodName><params><param><value><dateTime.iso8601>yesterday</dateTime.iso8601></value></param></params></methodCall>`,
		"nan":             `<methodCall><methodName>m</methodName><params><param><value><double>NaN</double></value></param></params></methodCall>`,
		"unknown type":    `<methodCall><methodName>m</methodName><params><param><value><float>1</float></value></param></params></methodCall>`,
		"mixed":           `<methodCall><methodName>m</methodName><params><param><value>x<string>y</string></value></param></params></methodCall>`,
		"trailing":        `<methodCall><methodName>m</methodName></methodCall><x/>`,
		"deep":            `<methodCall><methodName>m</methodName><params><param>` + deep + `</param></params></methodCall>`,
		"billion laughs":  `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><methodCall><methodName>&lol2;</methodName></methodCall>`,
		"entity":          `<methodCall><methodName>&xxe;</methodName></methodCall>`,
		"invalid utf8":    "<methodCall><methodName>m\xff</methodName></methodCall>",
		"struct no name":  `<methodCall><methodName>m</methodName><params><param><value><struct><member><value>1</value></member></struct></value></param></params></methodCall>`,
		"long name":       `<methodCall><methodName>` + strings.Repeat("m", maxMethodName+1) + `</methodName></methodCall>`,
		"long CDATA name": `<methodCall><methodName><![CDATA[` + strings.Repeat("m", maxMethodName+1) + `]]></methodName></methodCall>`,
		"attribute &":     `<methodCall><methodName>m</methodName><params><param><value><nil a="&"/></value></param></params></methodCall>`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := call(body)
			require.Error(t, err)
			require.True(t, errors.Is(err, errSyntax), "error %v should be a syntax error", err)
		})
	}
}

func TestDecodeResponse(t *testing.T) {
	v, err := DecodeResponse(strings.NewReader(`<?xml version="1.0"?><methodResponse><params><param><value><nil/></value></param></params></methodResponse>`), Limits{})
	require.NoError(t, err)
	require.Nil(t, v)
	_, err = DecodeResponse(strings.NewReader(`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-1</int></value></member><member><name>faultString</name><value><string>boom</string></value></member></struct></value></fault></methodResponse>`), Limits{})
	var f *Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, Fault{Code: -1, String: "boom"}, *f)
}

// TestEncodeGolden pins the exact bytes of the encoder's output.
func TestEncodeGolden(t *testing.T) {
	resp, err := EncodeResponse([]any{
		[][]string{{"http://x/<a&b>", "ok", "OK"}},
		map[string]any{"z": 1, "a": true, "m": nil},
		time.Date(2026, 11, 23, 12, 0, 0, 0, time.FixedZone("CET", 3600)),
		[]byte("hi"), 0.25, "line\r\nbreak\x00\xff",
	})
	require.NoError(t, err)
	out := append(append([]byte(nil), resp...), EncodeFault(-32601, "unknown method \"x\"")...)
	call, err := EncodeCall("updateManyStates", "id", "pw", [][]string{{"u", "ok", "OK"}})
	require.NoError(t, err)
	out = append(out, call...)
	golden := filepath.Join("testdata", "encode.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(golden, out, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(out))
	// What we emit, we read back.
	v, err := DecodeResponse(bytes.NewReader(resp), Limits{})
	require.NoError(t, err)
	require.Len(t, v, 6)
}

func TestEncodeRejects(t *testing.T) {
	for _, v := range []any{int64(1) << 31, -(int64(1) << 32), struct{}{}} {
		_, err := EncodeResponse(v)
		require.Error(t, err, "%v", v)
	}
}

func FuzzDecodeCall(f *testing.F) {
	f.Add([]byte(`<methodCall><methodName>registerURLs</methodName><params><param><value>a</value></param><param><value><array><data><value>http://x/</value></data></array></value></param></params></methodCall>`))
	f.Add([]byte(`<methodCall><methodName>m</methodName><params><param><value><struct><member><name>k</name><value><base64>aGk=</base64></value></member></struct></value></param></params></methodCall>`))
	f.Add([]byte(`<?xml version="1.0" encoding="iso-8859-1"?><methodCall><methodName>m</methodName></methodCall>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ps, err := DecodeCall(bytes.NewReader(b), Limits{MaxDepth: 8, MaxValues: 1000})
		if err != nil {
			if !errors.Is(err, errSyntax) {
				t.Fatalf("decode error %v is not a syntax error", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same shape.
		out, err := EncodeCall(m, ps...)
		if err != nil {
			return // e.g. an i8 beyond int32: decodable, deliberately not encodable
		}
		m2, ps2, err := DecodeCall(bytes.NewReader(out), Limits{MaxDepth: 9, MaxValues: 2000})
		if err != nil {
			t.Fatalf("re-decoding our own encoding failed: %v\n%s", err, out)
		}
		if strings.TrimSpace(m) != m2 || len(ps) != len(ps2) {
			t.Fatalf("round trip changed the call: %q %d → %q %d", m, len(ps), m2, len(ps2))
		}
	})
}

// FuzzDecodeDifferential compares the decoder with the encoding/xml one it
// replaced (decode_ref_test.go): both accept the same documents, and decode
// them to the same call.
func FuzzDecodeDifferential(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><methodCall><methodName>registerURLs</methodName><params><param><value>a</value></param><param><value><array><data><value>http://x/</value><value/></data></array></value></param></params></methodCall>`))
	f.Add([]byte(`<methodCall><methodName>m</methodName><params><param><value><struct><member><name>k</name><value><base64>aGk=</base64></value></member></struct></value></param></params></methodCall>`))
	f.Add([]byte("<methodCall><methodName>m</methodName><params><param><value><string>a&amp;b&#13;\r\n<![CDATA[<x>]]><!-- c --></string></value></param></params></methodCall>"))
	f.Add([]byte(`<?xml version="1.0" encoding="iso-8859-1"?><methodCall><methodName>m` + "\xe9" + `</methodName><params/></methodCall>`))
	f.Add([]byte(`<methodCall><methodName>m</methodName><params><param><value><ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/></value></param><param><value><i8>-5</i8></value></param><param><value><dateTime.iso8601>20261123T12:30:00</dateTime.iso8601></value></param></params></methodCall>`))
	f.Add([]byte(`<methodCall><methodName>0</methodName><params><param><value><nil A="&"/></value></param></params></methodCall>`))
	f.Add([]byte(`<methodCall><methodName><![CDATA[` + strings.Repeat("m", maxMethodName) + `]]></methodName></methodCall>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxDepth: 8, MaxValues: 1000}
		m, ps, err := DecodeCall(bytes.NewReader(b), lim)
		rm, rps, rerr := refDecodeCall(bytes.NewReader(b), lim)
		if err != nil && !errors.Is(err, errSyntax) {
			t.Fatalf("decode error %v is not a syntax error", err)
		}
		if (err == nil) != (rerr == nil) {
			t.Fatalf("decoder: %v; encoding/xml: %v", err, rerr)
		}
		if err != nil {
			return
		}
		if m != rm {
			t.Fatalf("method %q, encoding/xml says %q", m, rm)
		}
		require.Equal(t, rps, ps)
	})
}

// TestDecodeAllocation: decoding a large registerURLs call allocates
// about what it returns, near 1× the body (encoding/xml took 8×).
func TestDecodeAllocation(t *testing.T) {
	urls := make([]any, 80_000)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://127.0.0.3/%07d", i)
	}
	body, err := EncodeCall("registerURLs", "id", "pw", urls)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, ps, err := DecodeCall(bytes.NewReader(body), Limits{})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Len(t, ps[2], len(urls))
	ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(body))
	t.Logf("body %.1f MiB, allocated %.2f× the body", float64(len(body))/(1<<20), ratio)
	require.Less(t, ratio, 1.5)
}

func FuzzDecodeLinks(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><methodResponse><params><param><value><array><data><value>http://a/</value><value><string>b</string></value><value><int>1</int></value><value/></data></array></value></param></params></methodResponse>`))
	f.Add([]byte(`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		links, err := decodeLinks(bytes.NewReader(b), 100)
		var fault *Fault
		if err != nil && !errors.Is(err, errSyntax) && !errors.Is(err, errTooManyLinks) && !errors.As(err, &fault) {
			t.Fatalf("error %v is neither a syntax error, a fault nor too many links", err)
		}
		if err == nil {
			// The strings are those of the array, as the full decoder sees them.
			v, err := DecodeResponse(bytes.NewReader(b), Limits{})
			require.NoError(t, err)
			var want []string
			for _, e := range v.([]any) {
				if s, ok := e.(string); ok {
					want = append(want, s)
				}
			}
			require.Equal(t, len(want), len(links))
			for i := range want {
				require.Equal(t, want[i], links[i])
			}
		}
	})
}

// TestDecodeMethodNameBound: a method name of maxMethodName bytes is read,
// a longer one refused once it passes the bound, without reading the rest.
func TestDecodeMethodNameBound(t *testing.T) {
	name := strings.Repeat("m", maxMethodName)
	m, _, err := call(`<methodCall><methodName>` + name + `</methodName></methodCall>`)
	require.NoError(t, err)
	require.Equal(t, name, m)
	r := &countingReader{r: io.MultiReader(strings.NewReader(`<methodCall><methodName>`), neverEnding('m'))}
	_, _, err = DecodeCall(r, Limits{})
	require.ErrorIs(t, err, errSyntax)
	require.ErrorContains(t, err, "methodName over 256 bytes")
	require.Less(t, r.n, 64<<10, "bytes read of an endless method name")
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
