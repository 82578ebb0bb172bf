package main

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.yaml.in/yaml/v3"

	"github.com/gopaycenter/paycenter"
)

// openAPIPath is where the example serves the pay center's OpenAPI
// document.
const openAPIPath = "/openapi.yaml"

// registerOpenAPI serves paycenter.OpenAPI at GET /openapi.yaml with its
// servers set to apiBase (publicURL + basePath), so that a tool given this
// URL (Swagger UI, a client generator, a contract checker) calls this pay
// center.
func registerOpenAPI(r gin.IRouter, apiBase string) error {
	doc, err := openAPIFor(apiBase)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	r.GET(openAPIPath, func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml; charset=utf-8", doc) })
	return nil
}

// openAPIFor returns the document with one server, apiBase. It edits the
// YAML nodes rather than the text, so comments and the rest stay as
// written.
func openAPIFor(apiBase string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(paycenter.OpenAPI), &doc); err != nil {
		return nil, err
	}
	var servers yaml.Node
	if err := servers.Encode([]map[string]string{{"url": apiBase, "description": "this example's pay center"}}); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	found := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "servers" {
			root.Content[i+1], found = &servers, true
		}
	}
	if !found {
		return nil, fmt.Errorf("the document has no servers")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
