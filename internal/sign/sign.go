// Package sign implements the pay center document's request signatures.
//
// Both versions sign the same base string, METHOD + path + the sorted
// "name=value" pairs of every parameter except sign:
//
//	v1 (the document's rule): hex(MD5(urlencode(base + secret)))
//	v2 (extension):           hex(HMAC-SHA256(secret, urlencode(base)))
//
// urlencode is Java's URLEncoder.encode(s, "UTF-8") as the document's
// examples use it, except that '*' is encoded too (see [JavaURLEncode]).
package sign

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// BaseString returns METHOD + path + k1=v1 + k2=v2 ... with the parameters
// sorted by name and "sign" left out.
func BaseString(method, path string, params map[string]string) string {
	names := make([]string, 0, len(params))
	n := len(method) + len(path)
	for k, v := range params {
		if k == "sign" {
			continue
		}
		names = append(names, k)
		n += len(k) + 1 + len(v)
	}
	sort.Strings(names)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(strings.ToUpper(method))
	b.WriteString(path)
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// V1 returns the version 1 signature of base.
func V1(base, secret string) string {
	sum := md5.Sum([]byte(JavaURLEncode(base + secret)))
	return hex.EncodeToString(sum[:])
}

// V2 returns the version 2 signature of base.
func V2(base, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(JavaURLEncode(base)))
	return hex.EncodeToString(m.Sum(nil))
}

// Equal compares two hex signatures in constant time, ignoring hex case.
func Equal(got, want string) bool {
	return hmac.Equal([]byte(strings.ToLower(got)), []byte(want))
}

// JavaURLEncode encodes s as Java's URLEncoder.encode(s, "UTF-8") does:
// ASCII letters, digits and ".-_" are kept, a space becomes "+", and every
// other byte of the UTF-8 text becomes "%XX" with upper-case hex. Unlike
// Java, '*' is encoded as "%2A", as the document's rule and its test vectors
// require.
func JavaURLEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3 / 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
