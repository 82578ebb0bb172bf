package clip

import "testing"

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 4, "abcd"},
		{"支付宝", 4, "支"},  // 3 bytes a rune: not split
		{"支付宝", 6, "支付"}, // exactly on a boundary
		{"支付宝", 2, ""},
	} {
		if got := Bytes(c.s, c.n); got != c.want {
			t.Errorf("Bytes(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
