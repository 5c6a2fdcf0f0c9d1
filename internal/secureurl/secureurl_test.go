package secureurl

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw, want, errHas string
		loopback          bool
	}{
		{"https://cdn.aliyuncs.com", "https://cdn.aliyuncs.com", "", false},
		{"cdn.aliyuncs.com", "https://cdn.aliyuncs.com", "", false},
		{" https://cdn.aliyuncs.com/ ", "https://cdn.aliyuncs.com", "", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", "", true},
		{"http://127.9.9.9:1", "http://127.9.9.9:1", "", true},
		{"http://[::1]:9000", "http://[::1]:9000", "", true},
		{"http://localhost:9000", "http://localhost:9000", "", true},
		{"http://cdn.aliyuncs.com", "", "plain http is allowed only to a loopback host", false},
		{"http://10.0.0.1", "", "plain http is allowed only to a loopback host", false},
		{"ftp://127.0.0.1", "", "the scheme must be https", false},
		{"https://cdn.aliyuncs.com/path", "", "give only scheme, host and port", false},
		{"https://cdn.aliyuncs.com?x=1", "", "give only scheme, host and port", false},
		{"https://", "", "has no host", false},
		{"https://user:hunter2@cdn.aliyuncs.com", "", "must not contain user information", false},
	}
	for _, tt := range tests {
		e, err := Parse("CERTDROP_CDN_ENDPOINT", tt.raw)
		switch {
		case tt.errHas != "":
			if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.HasPrefix(err.Error(), "CERTDROP_CDN_ENDPOINT") {
				t.Errorf("Parse(%q) = %v, %v; want an error with %q", tt.raw, e, err, tt.errHas)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the password: %v", err)
			}
		case err != nil || e.String() != tt.want || e.Loopback != tt.loopback:
			t.Errorf("Parse(%q) = %v (loopback %v), %v; want %s", tt.raw, e, e.Loopback, err, tt.want)
		}
	}
}
