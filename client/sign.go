package client

import "github.com/gopaycenter/paycenter/internal/sign"

// Signature versions accepted by [WithSignVersion] and [Sign].
const (
	// SignV1 is the document's signature: lower-case hex MD5 of the
	// URL-encoded base string followed by the secret. It is the default.
	SignV1 = 1
	// SignV2 is the pay center's extension: lower-case hex HMAC-SHA256 keyed
	// with the secret over the URL-encoded base string. Requests signed with
	// it carry version=v2, a timestamp and a single-use nonce.
	SignV2 = 2
)

// JavaURLEncode encodes s as Java's URLEncoder.encode(s, "UTF-8") does in the
// pay center's signature rule: ASCII letters, digits and ".-_" are kept, a
// space becomes "+", and every other byte becomes "%XX" (upper-case hex) of
// its UTF-8 encoding. Unlike Java, "*" is encoded as "%2A" (the rule of the
// summary §3.3 and of the test vectors), and "~" as "%7E".
//
// Bytes of s that are not valid UTF-8 are percent-encoded as they are, so
// url.QueryUnescape(JavaURLEncode(s)) == s for every s.
func JavaURLEncode(s string) string { return sign.JavaURLEncode(s) }

// BaseString returns the string a request's signature is computed over
// (SPEC 2.1, summary §3.3): the upper-case HTTP method, the request path as
// the server receives it (including any base path the pay center is mounted
// under, without the query string), then "name=value" for every parameter
// sorted by name (byte order) and concatenated without separators.
//
// params holds every signed parameter: query and form parameters plus the
// common parameters sent (key, timestamp, expires, version, nonce). A
// parameter named "sign" is ignored. An absent value is the empty string.
func BaseString(method, path string, params map[string]string) string {
	return sign.BaseString(method, path, params)
}

// Sign returns the signature of a request, as sent in the "sign" parameter.
//
// With version [SignV2] it is hex(HMAC-SHA256(secret, JavaURLEncode(base)));
// with any other version (normally [SignV1]) it is
// hex(MD5(JavaURLEncode(base + secret))), where base is
// [BaseString](method, path, params). Both are lower-case hex.
//
// For v2, params must include the "version" ("v2"), "timestamp" and "nonce"
// values that are sent with the request; the pay center checks them.
func Sign(version int, method, path string, params map[string]string, secret string) string {
	base := sign.BaseString(method, path, params)
	if version == SignV2 {
		return sign.V2(base, secret)
	}
	return sign.V1(base, secret)
}
