package paycenter

import _ "embed" // the OpenAPI document

// OpenAPI is the OpenAPI 3.1 description of the routes a mounted pay center
// serves (docs/openapi.yaml): the API with its parameters, envelope and
// error codes, the channels' callbacks, the sandbox routes, and the
// webhooks under "webhooks". Serve it to non-Go merchants or generate a
// client from it. Paths are relative to the pay center's base URL
// (PublicURL + router group + BasePath).
//
//go:embed docs/openapi.yaml
var OpenAPI string
