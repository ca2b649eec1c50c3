package xmlrpcapi

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The value model of the codec. Decoding produces:
//
//	XML-RPC              Go
//	int, i4, i8          int64
//	boolean              bool
//	string, untyped      string
//	double               float64
//	dateTime.iso8601     time.Time (UTC unless the value carries a zone)
//	base64               []byte
//	array                []any
//	struct               map[string]any
//	nil, ex:nil          nil
//
// Encoding accepts those types plus int, int32, []string, [][]string,
// []map[string]any and Struct, and refuses integers outside int32 (Python
// cannot read them) and NaN or infinite doubles.

// Struct is an XML-RPC struct with its members in a fixed order. A
// map[string]any is encoded with its members sorted by name.
type Struct []Member

// Member is one member of a Struct.
type Member struct {
	Name  string
	Value any
}

// Fault is an XML-RPC fault. It is an error.
type Fault struct {
	Code   int
	String string
}

// Error implements error.
func (f *Fault) Error() string { return fmt.Sprintf("xmlrpc fault %d: %s", f.Code, f.String) }

// Standard fault codes (the specification for faults of the server itself,
// http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php).
const (
	FaultParse          = -32700 // not well-formed
	FaultEncoding       = -32701 // unsupported encoding
	FaultInvalidRequest = -32600 // not an XML-RPC methodCall
	FaultUnknownMethod  = -32601
	FaultInvalidParams  = -32602
	FaultInternal       = -32603
	FaultApplication    = -1 // the original server's code for everything else
)

// Limits bound what the decoder accepts.
type Limits struct {
	// MaxDepth is the deepest nesting of arrays and structs. Default 32.
	MaxDepth int
	// MaxValues is the most values in one document. Default 1,000,000.
	MaxValues int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxValues <= 0 {
		l.MaxValues = 1_000_000
	}
	return l
}

// encoder writes values; errors name the offending type.
type encoder struct {
	b bytes.Buffer
}

const xmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

// EncodeResponse returns a methodResponse carrying v.
func EncodeResponse(v any) ([]byte, error) {
	var e encoder
	e.b.WriteString(xmlHeader + "<methodResponse><params><param>")
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	e.b.WriteString("</param></params></methodResponse>\n")
	return e.b.Bytes(), nil
}

// EncodeFault returns a methodResponse carrying a fault. A code outside
// int32 is sent as FaultInternal.
func EncodeFault(code int, msg string) []byte {
	var e encoder
	e.b.WriteString(xmlHeader + "<methodResponse><fault>")
	if err := e.value(Struct{{"faultCode", code}, {"faultString", msg}}, 0); err != nil {
		// Only a code outside int32 fails; Python could not read it.
		return EncodeFault(FaultInternal, msg)
	}
	e.b.WriteString("</fault></methodResponse>\n")
	return e.b.Bytes()
}

// EncodeCall returns a methodCall.
func EncodeCall(method string, params ...any) ([]byte, error) {
	var e encoder
	e.b.WriteString(xmlHeader + "<methodCall><methodName>")
	e.text(method)
	e.b.WriteString("</methodName><params>")
	for _, p := range params {
		e.b.WriteString("<param>")
		if err := e.value(p, 0); err != nil {
			return nil, err
		}
		e.b.WriteString("</param>")
	}
	e.b.WriteString("</params></methodCall>\n")
	return e.b.Bytes(), nil
}

const maxEncodeDepth = 64

func (e *encoder) value(v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("xmlrpcapi: encode: nested deeper than %d", maxEncodeDepth)
	}
	e.b.WriteString("<value>")
	switch v := v.(type) {
	case nil:
		e.b.WriteString("<nil/>")
	case bool:
		if v {
			e.b.WriteString("<boolean>1</boolean>")
		} else {
			e.b.WriteString("<boolean>0</boolean>")
		}
	case int:
		if err := e.int(int64(v)); err != nil {
			return err
		}
	case int32:
		if err := e.int(int64(v)); err != nil {
			return err
		}
	case int64:
		if err := e.int(v); err != nil {
			return err
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("xmlrpcapi: encode: %v cannot be sent", v)
		}
		e.b.WriteString("<double>" + strconv.FormatFloat(v, 'f', -1, 64) + "</double>")
	case string:
		e.b.WriteString("<string>")
		e.text(v)
		e.b.WriteString("</string>")
	case time.Time:
		e.b.WriteString("<dateTime.iso8601>" + v.UTC().Format("20060102T15:04:05") + "</dateTime.iso8601>")
	case []byte:
		e.b.WriteString("<base64>" + base64.StdEncoding.EncodeToString(v) + "</base64>")
	case []any:
		return encodeArray(e, v, depth)
	case []string:
		return encodeArray(e, v, depth)
	case [][]string:
		return encodeArray(e, v, depth)
	case []map[string]any:
		return encodeArray(e, v, depth)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s := make(Struct, len(keys))
		for i, k := range keys {
			s[i] = Member{k, v[k]}
		}
		e.b.Truncate(e.b.Len() - len("<value>"))
		return e.value(s, depth)
	case Struct:
		e.b.WriteString("<struct>")
		for _, m := range v {
			e.b.WriteString("<member><name>")
			e.text(m.Name)
			e.b.WriteString("</name>")
			if err := e.value(m.Value, depth+1); err != nil {
				return err
			}
			e.b.WriteString("</member>")
		}
		e.b.WriteString("</struct>")
	default:
		return fmt.Errorf("xmlrpcapi: encode: unsupported type %T", v)
	}
	e.b.WriteString("</value>")
	return nil
}

// encodeArray writes the rest of an array value whose <value> tag e.value
// has written: one implementation for every slice type of the value model,
// typed so that no reflection runs per element.
func encodeArray[T any](e *encoder, xs []T, depth int) error {
	e.b.WriteString("<array><data>")
	for _, x := range xs {
		if err := e.value(x, depth+1); err != nil {
			return err
		}
	}
	e.b.WriteString("</data></array></value>")
	return nil
}

func (e *encoder) int(n int64) error {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return fmt.Errorf("xmlrpcapi: encode: %d does not fit in a 32-bit <int>", n)
	}
	e.b.WriteString("<int>" + strconv.FormatInt(n, 10) + "</int>")
	return nil
}

// text writes s escaped for XML. Characters XML 1.0 cannot carry (most
// control characters, invalid UTF-8) become U+FFFD; '\r' is escaped so that
// it survives line-end normalisation.
func (e *encoder) text(s string) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '<':
			e.b.WriteString("&lt;")
		case r == '>':
			e.b.WriteString("&gt;")
		case r == '&':
			e.b.WriteString("&amp;")
		case r == '\r':
			e.b.WriteString("&#13;")
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\t' && r != '\n', r == 0xFFFE, r == 0xFFFF:
			e.b.WriteRune(utf8.RuneError)
		default:
			e.b.WriteRune(r)
		}
	}
}
