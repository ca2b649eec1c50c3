package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// The JSON front door under the same large bodies: PUT /api/v1/links,
// whose body is a list of URLs (the API's largest kind).

// jsonBody returns a PUT /api/v1/links body of about size bytes.
func jsonBody(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 64)
	b.WriteString(`{"urls": [`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"http://127.0.0.3/%07d"`, i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// jsonAuth sets the credentials of attacker i's requests.
type jsonAuth func(i int, r *http.Request)

// unauthenticated: half the attackers send no credentials, half the
// legitimate id with a wrong password (HTTP Basic, counted by the guard).
func (t *target) unauthenticated(i int, r *http.Request) {
	if i%2 == 1 {
		r.SetBasicAuth(t.id, "guessed-password")
	}
}

// authenticated: the legitimate client's own credentials, so that every
// body is read and decoded (within the guard's budget) before it is
// refused for its 10,000-URL limit.
func (t *target) authenticated(_ int, r *http.Request) { r.SetBasicAuth(t.id, t.pw) }

// jsonFlood is an attack of n concurrent clients that PUT body to the JSON
// API back to back, with the credentials auth gives them, until the phase
// ends.
func (t *target) jsonFlood(n int, body []byte, auth jsonAuth) func(ctx context.Context, r *phaseResult) {
	return func(ctx context.Context, r *phaseResult) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := t.from[i%len(t.from)]
				for ctx.Err() == nil {
					r.count(t.putJSON(ctx, c, body, func(req *http.Request) { auth(i, req) }))
				}
			})
		}
		wg.Wait()
	}
}

func (t *target) putJSON(ctx context.Context, c *http.Client, body []byte, auth func(*http.Request)) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+t.addr+"/api/v1/links", bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return result{status: resp.StatusCode, err: err}
}
