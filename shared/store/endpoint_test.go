package store

import (
	"strings"
	"testing"
)

func TestResolveEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		opts     Options
		url      string
		region   string
		loopback bool
		err      string // substring; "" means success
	}{
		{name: "public outside FC", env: map[string]string{"FC_REGION": "cn-hangzhou"},
			url: "https://oss-cn-hangzhou.aliyuncs.com", region: "cn-hangzhou"},
		{name: "internal inside FC", env: map[string]string{"FC_REGION": "ap-southeast-1", "FC_FUNCTION_NAME": "certdrop"},
			url: "https://oss-ap-southeast-1-internal.aliyuncs.com", region: "ap-southeast-1"},
		{name: "region option wins", env: map[string]string{"FC_REGION": "cn-hangzhou"}, opts: Options{Region: "cn-beijing"},
			url: "https://oss-cn-beijing.aliyuncs.com", region: "cn-beijing"},
		{name: "no region", err: "no OSS region"},
		{name: "bad region", env: map[string]string{"FC_REGION": "cn-hangzhou/../x"}, err: "invalid region"},
		{name: "env endpoint without scheme is https", env: map[string]string{"CERTDROP_OSS_ENDPOINT": "oss-cn-shenzhen.aliyuncs.com"},
			url: "https://oss-cn-shenzhen.aliyuncs.com", region: "cn-shenzhen"},
		{name: "region from internal host", opts: Options{Endpoint: "https://oss-cn-shanghai-internal.aliyuncs.com/"},
			url: "https://oss-cn-shanghai-internal.aliyuncs.com", region: "cn-shanghai"},
		{name: "option endpoint wins over env", env: map[string]string{"CERTDROP_OSS_ENDPOINT": "http://10.1.1.1", "FC_REGION": "cn-hangzhou"},
			opts: Options{Endpoint: "http://127.0.0.1:9000"}, url: "http://127.0.0.1:9000", region: "cn-hangzhou", loopback: true},
		{name: "http to 127.x", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://127.8.9.10:1"},
			url: "http://127.8.9.10:1", region: "cn-hangzhou", loopback: true},
		{name: "http to ::1", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://[::1]:9000"},
			url: "http://[::1]:9000", region: "cn-hangzhou", loopback: true},
		{name: "http to localhost", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://LOCALHOST:9000"},
			url: "http://LOCALHOST:9000", region: "cn-hangzhou", loopback: true},
		{name: "https to loopback", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "https://127.0.0.1:8443"},
			url: "https://127.0.0.1:8443", region: "cn-hangzhou", loopback: true},
		{name: "loopback endpoint needs a region", env: map[string]string{"CERTDROP_OSS_ENDPOINT": "http://127.0.0.1:9000"}, err: "no OSS region"},
		{name: "http to public host", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://oss-cn-hangzhou.aliyuncs.com"}, err: "plain http"},
		{name: "http to private IP", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://192.168.1.10"}, err: "plain http"},
		{name: "http to lookalike host", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://127.0.0.1.nip.io"}, err: "plain http"},
		{name: "http to localhost subdomain", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "http://localhost.evil.com"}, err: "plain http"},
		{name: "other scheme", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "ftp://127.0.0.1"}, err: "scheme"},
		{name: "path", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "https://example.com/oss"}, err: "only scheme, host and port"},
		{name: "query", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "https://example.com?x=1"}, err: "only scheme, host and port"},
		{name: "user info", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "https://ak:hunter2@example.com"}, err: "user information"},
		{name: "no host", env: map[string]string{"FC_REGION": "cn-hangzhou", "CERTDROP_OSS_ENDPOINT": "https://"}, err: "no host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := resolveEndpoint(tc.opts, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Error("error echoes a password")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.url != tc.url || ep.region != tc.region || ep.loopback != tc.loopback {
				t.Errorf("got %+v, want %s %s loopback=%v", ep, tc.url, tc.region, tc.loopback)
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	long := strings.Repeat("k", 1024)
	for _, key := range []string{"", "/abs", `\win`, long, "bad\xffutf8"} {
		if err := validKey("get", key); err == nil {
			t.Errorf("validKey(%.20q) accepted", key)
		}
	}
	for _, key := range []string{"a", "a b/c+d%e", "证书", "a//b", strings.Repeat("k", 1023)} {
		if err := validKey("get", key); err != nil {
			t.Errorf("validKey(%.20q): %v", key, err)
		}
	}
}
