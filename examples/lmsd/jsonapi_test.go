package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJSONAPIMounted: lmsd serves the JSON API under /api/ beside XML-RPC
// (whose catch-all takes every other POST) and the pages.
func TestJSONAPIMounted(t *testing.T) {
	h, _ := testHandler(t)
	rec := do(t, h, "GET", "/api/v1/openapi.json", "", false)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"openapi": "3.1.0"`)

	rec = do(t, h, "POST", "/api/v1/admin/clients", `{"id": "wp", "contact_email": "wp@example.org"}`, false,
		"Authorization", "Bearer "+secret, "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var created struct {
		Token struct{ Token string } `json:"token"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))

	// A POST under /api/ is the JSON API's, not XML-RPC's.
	rec = do(t, h, "POST", "/api/v1/links/query", `{"urls": ["https://example.org/"]}`, false,
		"Authorization", "Bearer "+created.Token.Token, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"state":"unknown"`)
	rec = do(t, h, "POST", "/api/nothing", `{}`, false)
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))

	// XML-RPC still answers elsewhere.
	rec = do(t, h, "POST", "/", `<?xml version="1.0"?><methodCall><methodName>getInfoFrameURL</methodName><params/></methodCall>`, false)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "/alerts")
}
