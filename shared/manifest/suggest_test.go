package manifest

import "testing"

// TestSuggest: a swapped pair of letters is one typo, so "vdo" is vod, not
// cdn (Levenshtein counts a swap as two edits and ties them).
func TestSuggest(t *testing.T) {
	products := TestProducts.names()
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"vdo", products, ` (did you mean "vod"?)`},
		{"lvie", products, ` (did you mean "live"?)`},
		{"dcn", products, ` (did you mean "cdn"?)`},
		{"CDN", products, ` (did you mean "cdn"?)`},
		{"vood", products, ` (did you mean "vod"?)`},
		{"waf", products, ""},
		{"dcnd", products, ` (did you mean "dcdn"?)`},
		{"domian", []string{"domain", "domains", "bundle"}, ` (did you mean "domain"?)`},
		{"wranDays", []string{"warnDays", "allowUntrusted"}, ` (did you mean "warnDays"?)`},
		{"x", []string{"cdn"}, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"vdo", "vod", 1}, {"vdo", "cdn", 2}, {"ca", "abc", 3},
		{"kitten", "sitting", 3}, {"domian", "domain", 1}, {"", "live", 4},
	}
	for _, tt := range tests {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
