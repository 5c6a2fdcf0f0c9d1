package job

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "abc", 3, "abc"},
		{"ascii", "abcdef", 3, "abc…(6 bytes)"},
		{"mid rune", "ab€cd", 3, "ab…(7 bytes)"}, // € is 3 bytes: 2..4
		{"rune end", "ab€cd", 5, "ab€…(7 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cut(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("cut(%q, %d) = %q: not valid UTF-8", tt.in, tt.n, got)
			}
		})
	}
	long := strings.Repeat("é", MaxEchoedKey) // 2 bytes a rune
	if got := shortKey(long); !utf8.ValidString(got) || !strings.HasSuffix(got, "…(512 bytes)") || len(got) > MaxEchoedKey+len("…(512 bytes)") {
		t.Errorf("shortKey of %d bytes = %q", len(long), got)
	}
	if got := clip(strings.Repeat("x", MaxEchoedMessage+1)); got != strings.Repeat("x", MaxEchoedMessage)+"…(2049 bytes)" {
		t.Errorf("clip kept %d bytes", len(got))
	}
}
