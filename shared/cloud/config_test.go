package cloud

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		raw, want, err string
	}{
		{"https://cdn.aliyuncs.com", "https://cdn.aliyuncs.com", ""},
		{"https://cdn.example.internal:8443/", "https://cdn.example.internal:8443", ""},
		{"cdn.aliyuncs.com", "https://cdn.aliyuncs.com", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"http://127.9.9.9", "http://127.9.9.9", ""},
		{"http://[::1]:9000", "http://[::1]:9000", ""},
		{"http://localhost:9000", "http://localhost:9000", ""},
		{"http://10.0.0.5:8080", "", "plain http is allowed only to a loopback host"},
		{"http://cdn.aliyuncs.com", "", "plain http is allowed only to a loopback host"},
		{"http://127.0.0.1.nip.io", "", "plain http is allowed only to a loopback host"},
		{"ftp://127.0.0.1", "", "scheme must be https"},
		{"https://cdn.aliyuncs.com/path", "", "only scheme, host and port"},
		{"https://user:pw@cdn.aliyuncs.com", "", "must not contain user information"},
		{"https://", "", "has no host"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := parseEndpoint(EnvCDNEndpoint, tt.raw)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.err)
			case tt.err == "" && (err != nil || got.String() != tt.want):
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestEndpointsForCalls(t *testing.T) {
	call := func(p manifest.Product, region string) plan.Call {
		return plan.Call{Target: manifest.Target{Product: p, Domain: "a.example.com", Region: region}}
	}
	none, err := readEndpoints(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	over, err := readEndpoints(env(nil, EnvCDNEndpoint, "http://127.0.0.1:1", EnvLiveEndpoint, "https://live.internal"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		eps  endpoints
		call plan.Call
		want string
	}{
		{none, call(manifest.CDN, ""), "https://cdn.aliyuncs.com"},
		{none, call(manifest.CDNLegacy, ""), "https://cdn.aliyuncs.com"},
		{none, call(manifest.VOD, ""), "https://vod.cn-shanghai.aliyuncs.com"},
		{none, call(manifest.VOD, manifest.VODRegionSingapore), "https://vod.ap-southeast-1.aliyuncs.com"},
		{none, call(manifest.Live, ""), "https://live.aliyuncs.com"},
		{none, plan.Call{Target: manifest.Target{Product: manifest.VOD}, Endpoint: "vod.ap-southeast-1.aliyuncs.com"}, "https://vod.ap-southeast-1.aliyuncs.com"},
		{over, call(manifest.CDN, ""), "http://127.0.0.1:1"},
		{over, call(manifest.CDNLegacy, ""), "http://127.0.0.1:1"},
		{over, call(manifest.VOD, manifest.VODRegionSingapore), "https://vod.ap-southeast-1.aliyuncs.com"},
		{over, call(manifest.Live, ""), "https://live.internal"},
	}
	for _, tt := range tests {
		if got := tt.eps.forCall(tt.call).String(); got != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.call.Target.Product, tt.call.Target.Region, got, tt.want)
		}
	}
}

func TestNewRefusesBadSetups(t *testing.T) {
	tests := []struct {
		name   string
		getenv func(string) string
		want   string
		is     error
	}{
		{"http to a remote host", env(nil, EnvVODEndpoint, "http://vod.cn-shanghai.aliyuncs.com"), "CERTDROP_VOD_ENDPOINT", nil},
		{"no credentials", func(k string) string { return map[string]string{"HOME": "/nonexistent"}[k] }, "no Alibaba Cloud credentials", ErrNoCredentials},
		{"half the credentials", func(k string) string {
			return map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "HOME": "/nonexistent"}[k]
		}, "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set", ErrNoCredentials},
		{"SDK debug log on", env(nil, "DEBUG", "foo,dara"), "DEBUG=dara", nil},
		{"credentials debug log on", env(nil, "DEBUG", "credential"), "DEBUG=credential", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Getenv: tt.getenv})
			leaks.seen(err)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCredentialsChain(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	profile := `{"current":"dev","profiles":[{"name":"dev","mode":"AK","access_key_id":"cliAK","access_key_secret":"` + testSK + `"},` +
		`{"name":"other","mode":"AK","access_key_id":"otherAK","access_key_secret":"` + testSK + `"}]}`
	if err := os.WriteFile(cfg, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aliyun"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aliyun", "config.json"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	given := &credchain.Credentials{AccessKeyID: "givenAK", AccessKeySecret: testSK}
	vars := func(kv ...string) func(string) string {
		m := map[string]string{"HOME": "/nonexistent"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name   string
		given  *credchain.Credentials
		getenv func(string) string
		wantID string
		token  string
	}{
		{"given wins over the environment", given, vars("ALIBABA_CLOUD_ACCESS_KEY_ID", "envAK", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", testSK), "givenAK", ""},
		{"environment with token", nil, vars("ALIBABA_CLOUD_ACCESS_KEY_ID", "envAK", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", testSK,
			"ALIBABA_CLOUD_SECURITY_TOKEN", testToken, "ALIBABA_CLOUD_CONFIG_FILE", cfg), "envAK", testToken},
		{"CLI profile file, current profile", nil, vars("ALIBABA_CLOUD_CONFIG_FILE", cfg), "cliAK", ""},
		{"CLI profile file, named profile", nil, vars("ALIBABA_CLOUD_CONFIG_FILE", cfg, "ALIBABA_CLOUD_PROFILE", "other"), "otherAK", ""},
		{"CLI profile under HOME", nil, vars("HOME", home), "cliAK", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := resolveCredentials(tt.given, tt.getenv)
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.GetCredentials()
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessKeyId != tt.wantID || got.AccessKeySecret != testSK || got.SecurityToken != tt.token {
				t.Fatalf("got %s (token %v)", got.AccessKeyId, got.SecurityToken != "")
			}
			found := false
			for _, v := range src.secretValues() {
				found = found || v == testSK
			}
			if !found {
				t.Fatal("the secret is not known to the redactor")
			}
		})
	}
	if _, err := resolveCredentials(nil, vars("ALIBABA_CLOUD_CONFIG_FILE", cfg, "ALIBABA_CLOUD_PROFILE", "missing")); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("a missing profile: %v", err)
	}
	if _, err := resolveCredentials(nil, vars("ALIBABA_CLOUD_CONFIG_FILE", cfg, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("a disabled profile: %v", err)
	}
}

// TestWithCredentials: a client for one invocation's credentials shares
// the connections and signs with those credentials.
func TestWithCredentials(t *testing.T) {
	cl, err := New(Options{Getenv: env(nil), Credentials: &credchain.Credentials{AccessKeyID: "fcAK", AccessKeySecret: testSTSSK, SecurityToken: testToken}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cl.creds.GetCredentials()
	if got.AccessKeyId != "fcAK" {
		t.Fatalf("the given credentials were not used: %s", got.AccessKeyId)
	}
	other, err := cl.WithCredentials(credchain.Credentials{AccessKeyID: "next", AccessKeySecret: testSK})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := other.creds.GetCredentials(); got.AccessKeyId != "next" || other.doers[manifest.CDN].c != cl.doers[manifest.CDN].c {
		t.Fatal("WithCredentials does not share the connections or does not switch credentials")
	}
	if _, err := cl.WithCredentials(credchain.Credentials{AccessKeyID: "x"}); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("incomplete credentials: %v", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	c, err := New(Options{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	d := c.doers[manifest.VOD]
	if d.c.Timeout != DefaultConnectTimeout+DefaultReadTimeout {
		t.Fatalf("client timeout %v", d.c.Timeout)
	}
	tr := d.c.Transport.(*http.Transport)
	if tr.ResponseHeaderTimeout != DefaultReadTimeout || tr.TLSHandshakeTimeout != DefaultConnectTimeout ||
		tr.MaxIdleConnsPerHost != DefaultMaxConnsPerHost || tr.TLSClientConfig.MinVersion == 0 {
		t.Fatalf("transport: %+v", tr)
	}
	if c.doers[manifest.CDN].c != c.doers[manifest.CDNLegacy].c || c.doers[manifest.CDN].c == c.doers[manifest.Live].c {
		t.Fatal("one HTTP client per product, shared by CDN's two APIs")
	}
}
