package jsonapi

import (
	_ "embed"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// document is the OpenAPI 3.1 description of the API: the contract. The
// tests validate every answer they get against it.
//
//go:embed openapi.json
var document []byte

// Document returns the OpenAPI 3.1 document (a copy).
func Document() []byte { return append([]byte(nil), document...) }

func serveDocument(w http.ResponseWriter, r *http.Request) {
	if !acceptable(r, "application/json", "application/vnd.oai.openapi+json") {
		writeProblem(w, newProblem(http.StatusNotAcceptable, "This path serves application/json; the Accept header admits none of it."))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(document)
}

// docsPage renders the document in the browser without anything from
// outside the server: the paths, their summaries and the problem types.
const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lms JSON API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
code{background:#f3f3f3;padding:0 .2em}h2{margin-top:1.5em}.m{display:inline-block;width:4.5em;font-weight:bold}</style>
</head><body>
<h1>lms JSON API</h1>
<p>The contract is the OpenAPI 3.1 document at <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a>;
load it into any OpenAPI tool to generate a client. Below, its paths.</p>
<div id="paths">Loading…</div>
<h2 id="problems">Problem types</h2>
<p>Every error is <code>application/problem+json</code> (RFC 9457) with <code>type</code>, <code>title</code>,
<code>status</code>, <code>detail</code> and, for invalid requests, <code>errors</code>: a list of
<code>{field, detail}</code> where <code>field</code> is a JSON pointer into the body or the name of a query parameter.</p>
<dl>
<dt id="problem-bad-request">bad-request (400)</dt><dd>The body is not well-formed JSON.</dd>
<dt id="problem-unauthorized">unauthorized (401)</dt><dd>No credentials, or wrong ones; see <code>WWW-Authenticate</code>.</dd>
<dt id="problem-forbidden">forbidden (403)</dt><dd>The credentials are right but may not do this (a client on the operator's paths).</dd>
<dt id="problem-not-found">not-found (404)</dt><dd>No such path or resource.</dd>
<dt id="problem-method-not-allowed">method-not-allowed (405)</dt><dd>See <code>Allow</code>.</dd>
<dt id="problem-not-acceptable">not-acceptable (406)</dt><dd>The <code>Accept</code> header admits none of the types the path serves.</dd>
<dt id="problem-conflict">conflict (409)</dt><dd>The name is taken.</dd>
<dt id="problem-too-large">too-large (413)</dt><dd>The body is over the limit (16 MiB by default).</dd>
<dt id="problem-unsupported-media-type">unsupported-media-type (415)</dt><dd>Send <code>application/json</code>.</dd>
<dt id="problem-invalid">invalid (422)</dt><dd>Unknown fields, wrong types, invalid values; nothing was changed.</dd>
<dt id="problem-throttled">throttled (429)</dt><dd>Too many failed credential checks; wait <code>Retry-After</code> seconds.</dd>
<dt id="problem-rate-limited">rate-limited (429)</dt><dd>Over the client's hourly cap (re-checks); wait <code>Retry-After</code> seconds.</dd>
<dt id="problem-internal">internal (500)</dt><dd>The server failed; its log says why.</dd>
<dt id="problem-unavailable">unavailable (503)</dt><dd>Busy or not available; wait <code>Retry-After</code> seconds.</dd>
</dl>
<script>
fetch('/api/v1/openapi.json').then(r=>r.json()).then(d=>{
 const el=document.getElementById('paths');el.textContent='';
 for(const [p,ops] of Object.entries(d.paths)){
  const h=document.createElement('h2');h.textContent=p;el.appendChild(h);
  for(const [m,op] of Object.entries(ops)){
   if(typeof op!=='object'||!op.summary)continue;
   const div=document.createElement('div');
   const s=document.createElement('span');s.className='m';s.textContent=m.toUpperCase();
   div.appendChild(s);div.appendChild(document.createTextNode(op.summary));el.appendChild(div);
  }
 }
});
</script>
</body></html>
`

func serveDocs(w http.ResponseWriter, r *http.Request) {
	if !acceptable(r, "text/html") {
		writeProblem(w, newProblem(http.StatusNotAcceptable, "This path serves text/html; the Accept header admits none of it."))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(docsPage))
}

// acceptable reports whether the Accept header of r admits one of types
// (RFC 9110 12.5.1): no header, or a media range that matches one of
// them exactly, by its type ("application/*") or as "*/*", with a q above
// 0. Unreadable ranges admit nothing.
func acceptable(r *http.Request, types ...string) bool {
	header := r.Header.Values("Accept")
	if len(header) == 0 {
		return true
	}
	for _, h := range header {
		for _, rng := range strings.Split(h, ",") {
			if strings.TrimSpace(rng) == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(rng)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			for _, t := range types {
				major, _, _ := strings.Cut(t, "/")
				if mt == "*/*" || mt == t || mt == major+"/*" {
					return true
				}
			}
		}
	}
	return false
}
