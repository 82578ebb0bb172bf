package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gopaycenter/paycenter"
	"github.com/gopaycenter/paycenter/client"
)

// TestServedOpenAPI: GET /openapi.yaml serves the pay center's document,
// unchanged but for its server, which is where this example serves the API
// (publicURL + basePath); a tool that reads it reaches the API and finds
// the answers it describes.
func TestServedOpenAPI(t *testing.T) {
	cfg := writeConfig(t, "addr: 127.0.0.1:0\nbasePath: /pay\ndatabase: {dsn: "+filepath.Join(t.TempDir(), "pc.db")+"}\n")
	addr, banner := start(t, "-config", cfg)
	assert.Contains(t, banner, "API description (OpenAPI 3.1): http://"+addr+"/openapi.yaml")

	resp, err := http.Get("http://" + addr + "/openapi.yaml")
	require.NoError(t, err)
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/yaml; charset=utf-8", resp.Header.Get("Content-Type"))

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(served)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context))
	require.Len(t, doc.Servers, 1)
	assert.Equal(t, "http://"+addr+"/pay", doc.Servers[0].URL)

	// Everything but the servers is the embedded document.
	var got, want map[string]any
	require.NoError(t, yaml.Unmarshal(served, &got))
	require.NoError(t, yaml.Unmarshal([]byte(paycenter.OpenAPI), &want))
	delete(got, "servers")
	delete(want, "servers")
	assert.Equal(t, want, got)
	assert.Contains(t, string(served), "# --- request forms", "comments are kept")

	// A real request to the server the document names is one of its
	// operations, and the answer is what that operation describes.
	m := devAppLine.FindStringSubmatch(banner)
	require.NotNil(t, m, banner)
	var seen *http.Response
	var seenReq *http.Request
	var body []byte
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		res, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			body, err = io.ReadAll(res.Body)
			res.Body.Close()
			res.Body = io.NopCloser(bytes.NewReader(body))
		}
		seen, seenReq = res, r
		return res, err
	})}
	c := client.New(m[1], m[2], client.WithBaseURL(doc.Servers[0].URL), client.WithHTTPClient(hc))
	_, err = c.WxNativePay(context.Background(), "served000001", 100, "127.0.0.1", "tea", "tea", time.Now().UnixMilli(), "", 0, "", "", "")
	require.NoError(t, err)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	route, params, err := router.FindRoute(seenReq)
	require.NoError(t, err, "the served document's server routes %s", seenReq.URL)
	assert.Equal(t, "createCharge", route.Operation.OperationID)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: seenReq, PathParams: params, Route: route},
		Status:                 seen.StatusCode, Header: seen.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), in))
	assert.True(t, strings.HasPrefix(seenReq.URL.String(), doc.Servers[0].URL+"/api/charges"))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
