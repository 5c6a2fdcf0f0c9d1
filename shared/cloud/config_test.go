package cloud

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/internal/credchain"
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
			got, err := parseEndpoint("CERTDROP_CDN_ENDPOINT", tt.raw)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.err)
			case tt.err == "" && (err != nil || got.String() != tt.want):
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestEndpointsForCalls: a call goes to the override its EndpointVar
// names (read at New when listed in EndpointVars, else at the call), else
// to https:// its planned host; a bad override read at the call fails it.
func TestEndpointsForCalls(t *testing.T) {
	call := func(envVar, host string) plan.Call { return plan.Call{EndpointVar: envVar, Endpoint: host} }
	getenv := env("CERTDROP_CDN_ENDPOINT", "http://127.0.0.1:1", "CERTDROP_LIVE_ENDPOINT", "https://live.internal",
		"CERTDROP_BAD_ENDPOINT", "http://bad.example.com")
	none := newClient(t, Options{Getenv: env()})
	over := newClient(t, Options{Getenv: getenv, EndpointVars: []string{"CERTDROP_CDN_ENDPOINT"}})
	tests := []struct {
		c    *Client
		call plan.Call
		want string
	}{
		{none, call("CERTDROP_CDN_ENDPOINT", "cdn.aliyuncs.com"), "https://cdn.aliyuncs.com"},
		{none, call("CERTDROP_VOD_ENDPOINT", "vod.ap-southeast-1.aliyuncs.com"), "https://vod.ap-southeast-1.aliyuncs.com"},
		{none, call("", "live.aliyuncs.com"), "https://live.aliyuncs.com"},
		{over, call("CERTDROP_CDN_ENDPOINT", "cdn.aliyuncs.com"), "http://127.0.0.1:1"},
		{over, call("CERTDROP_VOD_ENDPOINT", "vod.ap-southeast-1.aliyuncs.com"), "https://vod.ap-southeast-1.aliyuncs.com"},
		{over, call("CERTDROP_LIVE_ENDPOINT", "live.aliyuncs.com"), "https://live.internal"},
	}
	for _, tt := range tests {
		if got := tt.c.Endpoint(tt.call); got != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.call.EndpointVar, tt.call.Endpoint, got, tt.want)
		}
		ge := getenv
		if tt.c == none {
			ge = env()
		}
		if got, err := ResolveEndpoint(ge, tt.call); err != nil || got != tt.want {
			t.Errorf("ResolveEndpoint %s %s: %s %v, want %s", tt.call.EndpointVar, tt.call.Endpoint, got, err, tt.want)
		}
	}
	if _, err := over.endpointFor("CERTDROP_BAD_ENDPOINT", "x.aliyuncs.com"); err == nil || !strings.Contains(err.Error(), "CERTDROP_BAD_ENDPOINT") {
		t.Errorf("a plain-http override to a remote host read at the call: %v, want refused", err)
	}
	if _, err := ResolveEndpoint(getenv, call("CERTDROP_BAD_ENDPOINT", "x.aliyuncs.com")); err == nil {
		t.Error("ResolveEndpoint took a plain-http override to a remote host")
	}
}

func TestNewRefusesBadSetups(t *testing.T) {
	tests := []struct {
		name   string
		getenv func(string) string
		want   string
		is     error
	}{
		{"http to a remote host", env("CERTDROP_VOD_ENDPOINT", "http://vod.cn-shanghai.aliyuncs.com"), "CERTDROP_VOD_ENDPOINT", nil},
		{"no credentials", func(k string) string { return map[string]string{"HOME": "/nonexistent"}[k] }, "no Alibaba Cloud credentials", ErrNoCredentials},
		{"half the credentials", func(k string) string {
			return map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "HOME": "/nonexistent"}[k]
		}, "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set", ErrNoCredentials},
		{"SDK debug log on", env("DEBUG", "foo,dara"), "DEBUG=dara", nil},
		{"credentials debug log on", env("DEBUG", "credential"), "DEBUG=credential", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Getenv: tt.getenv, EndpointVars: []string{"CERTDROP_VOD_ENDPOINT"}})
			leaks.Seen(err)
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
	cl, err := New(Options{Getenv: env(), Credentials: &credchain.Credentials{AccessKeyID: "fcAK", AccessKeySecret: testSTSSK, SecurityToken: testToken}})
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
	if got, _ := other.creds.GetCredentials(); got.AccessKeyId != "next" || other.pools.get("cdn").c != cl.pools.get("cdn").c || other.rpcDoer.c != cl.rpcDoer.c {
		t.Fatal("WithCredentials does not share the connections or does not switch credentials")
	}
	if _, err := cl.WithCredentials(credchain.Credentials{AccessKeyID: "x"}); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("incomplete credentials: %v", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	c, err := New(Options{Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	d := c.pools.get("vod")
	if d.c.Timeout != DefaultConnectTimeout+DefaultReadTimeout {
		t.Fatalf("client timeout %v", d.c.Timeout)
	}
	tr := d.c.Transport.(*http.Transport)
	if tr.ResponseHeaderTimeout != DefaultReadTimeout || tr.TLSHandshakeTimeout != DefaultConnectTimeout ||
		tr.MaxIdleConnsPerHost != DefaultMaxConnsPerHost || tr.TLSClientConfig.MinVersion == 0 {
		t.Fatalf("transport: %+v", tr)
	}
	if c.pools.get("cdn").c != c.pools.get("cdn").c || c.pools.get("cdn").c == c.pools.get("live").c {
		t.Fatal("one HTTP client per pool name, built once")
	}
}
