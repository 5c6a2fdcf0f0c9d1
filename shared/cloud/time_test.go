package cloud

import (
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2018, 6, 3, 22, 3, 0, 0, time.UTC)
	for _, s := range []string{"2018-06-03T22:03:00Z", "2018-06-03T22:03Z", "2018-06-03 22:03:00", "1528063380000", "2018-06-04T06:03:00+08:00"} {
		if got, ok := ParseTime(s); !ok || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "soon", "0"} {
		if _, ok := ParseTime(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

// TestParseTimeListCname reads OSS ListCname's dates in both forms OSS
// writes: a two-digit day (RFC 1123) and a one-digit day, as the OSS SDK's
// own ListCname fixture has it ("Mon, 4 May 2048 10:14:51 GMT").
func TestParseTimeListCname(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"Mon, 4 May 2048 10:14:51 GMT", time.Date(2048, 5, 4, 10, 14, 51, 0, time.UTC)},
		{"Mon, 04 May 2048 10:14:51 GMT", time.Date(2048, 5, 4, 10, 14, 51, 0, time.UTC)},
		{"Wed, 12 Apr 2023 10:14:51 GMT", time.Date(2023, 4, 12, 10, 14, 51, 0, time.UTC)},
		{"Sat, 1 Jan 2028 00:00:00 GMT", time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, ok := ParseTime(tt.in)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("%q: got %v %v, want %v", tt.in, got, ok, tt.want)
		}
	}
}

func TestRedactor(t *testing.T) {
	b := testBundle(t, "www."+testDomain)
	key := b.KeyPEM().Reveal()
	lines := strings.Split(strings.TrimSpace(key), "\n")
	r := newRedactor(key, testSK, "", "abc")
	tests := []struct{ in, gone string }{
		{"whole key: " + key, key},
		{"one line: " + lines[1], lines[1]},
		{"secret " + testSK + " in the middle", testSK},
		{"an unknown key " + "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIN\n-----END EC PRIVATE KEY-----", "MHcCAQEEIN"},
		{"a truncated unknown key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg", "MIIEvQIBADANBg"},
	}
	for _, tt := range tests {
		got := r.scrub(tt.in)
		if strings.Contains(got, tt.gone) || !strings.Contains(got, bundle.Redacted) {
			t.Errorf("scrub left a secret of %d bytes", len(tt.gone))
		}
	}
	if got := r.scrub("abc is short and stays"); got != "abc is short and stays" {
		t.Errorf("short values are not secrets: %q", got)
	}
}
