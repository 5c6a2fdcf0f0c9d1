package product

import (
	"regexp"
	"testing"
)

func TestRegionField(t *testing.T) {
	f := RegionField("oss", "oss target has no region")
	if f.Name != "region" || f.Missing != "oss target has no region" || f.Default != "" {
		t.Errorf("field %+v", f)
	}
	for _, tc := range []struct{ value, want string }{
		{"cn-hangzhou", ""},
		{"ap-southeast-1", ""},
		{"eu-central-1", ""},
		{"cn-shanghai-finance-1", ""},
		{"hangzhou", `invalid oss region "hangzhou" (a region ID such as cn-hangzhou)`},
		{"CN-HANGZHOU", `invalid oss region "CN-HANGZHOU" (a region ID such as cn-hangzhou)`},
		{"cn-hangzhou.evil.com", `invalid oss region "cn-hangzhou.evil.com" (a region ID such as cn-hangzhou)`},
		{"", `invalid oss region "" (a region ID such as cn-hangzhou)`},
	} {
		if got := f.Check(tc.value); got != tc.want {
			t.Errorf("Check(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
}

func TestPatternField(t *testing.T) {
	f := PatternField("bucket", regexp.MustCompile(`^[a-z]+$`), "no bucket", "invalid bucket %q (letters)")
	if f.Name != "bucket" || f.Missing != "no bucket" {
		t.Errorf("field %+v", f)
	}
	for _, tc := range []struct{ value, want string }{
		{"abc", ""},
		{"a%sb", `invalid bucket "a%sb" (letters)`},
		{"A1", `invalid bucket "A1" (letters)`},
	} {
		if got := f.Check(tc.value); got != tc.want {
			t.Errorf("Check(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
}
