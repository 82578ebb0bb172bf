// Package clip shortens text for storage columns and error messages.
package clip

// Bytes returns s cut to at most n bytes, on a UTF-8 boundary (a column
// of n bytes takes it; a rune is never split).
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
