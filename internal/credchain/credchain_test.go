package credchain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSecret = "chain-secret-do-not-log"

// TestFind: the sources, in order, each read only through getenv. OIDC and
// the ECS role are checked by name only: using them asks STS or the
// metadata service, which tests do not reach.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "config.json")
	profile := `{"current":"dev","profiles":[{"name":"dev","mode":"AK","access_key_id":"cliAK","access_key_secret":"` + testSecret + `"}]}`
	tokenFile := filepath.Join(dir, "token")
	for f, data := range map[string]string{cli: profile, tokenFile: "oidc-token"} {
		if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aliyun"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aliyun", "config.json"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	oidc := []string{"ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/certdrop", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/ack",
		"ALIBABA_CLOUD_OIDC_TOKEN_FILE", tokenFile}
	tests := []struct {
		name   string
		env    []string
		source string // prefix of Source.Name; "" for ErrNone
		ak     string // checked when set
		errHas string
	}{
		{"environment", []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "envAK", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", testSecret, "ALIBABA_CLOUD_CONFIG_FILE", cli}, "environment", "envAK", ""},
		{"half the environment", []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "envAK", "ALIBABA_CLOUD_CONFIG_FILE", cli}, "", "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set"},
		{"OIDC before the CLI profile", append([]string{"ALIBABA_CLOUD_CONFIG_FILE", cli}, oidc...), "OIDC role acs:ram::1:role/certdrop", "", ""},
		{"OIDC incomplete", oidc[:2], "", "", "together"},
		{"CLI profile file", []string{"ALIBABA_CLOUD_CONFIG_FILE", cli, "ALIBABA_CLOUD_ECS_METADATA", "role"}, "CLI profile", "cliAK", ""},
		{"CLI profile under HOME", []string{"HOME", home}, "CLI profile", "cliAK", ""},
		{"ECS RAM role when the CLI profile is disabled", []string{"HOME", home, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true", "ALIBABA_CLOUD_ECS_METADATA", "certdrop-role"}, "ECS RAM role certdrop-role", "", ""},
		{"nothing", []string{"HOME", "/nonexistent"}, "", "", "no Alibaba Cloud credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for i := 0; i+1 < len(tt.env); i += 2 {
				m[tt.env[i]] = tt.env[i+1]
			}
			src, err := Find(func(k string) string { return m[k] })
			if tt.source == "" {
				if !errors.Is(err, ErrNone) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("got %v, want ErrNone saying %q", err, tt.errHas)
				}
				return
			}
			if err != nil || !strings.HasPrefix(src.Name, tt.source) || strings.Contains(src.Name, testSecret) {
				t.Fatalf("got %+v, %v; want source %q", src, err, tt.source)
			}
			if tt.ak != "" {
				c, err := src.Provider.GetCredentials()
				if err != nil || c.AccessKeyId != tt.ak || c.AccessKeySecret != testSecret {
					t.Fatalf("credentials %v %v", c != nil && c.AccessKeyId == tt.ak, err)
				}
			}
		})
	}
}

// TestCLIProfileErrorQuotesNoFile: credentials-go's CLI profile provider
// quotes the whole config.json in its error when the file is not valid
// JSON; the source's error says so without the file's secrets.
func TestCLIProfileErrorQuotesNoFile(t *testing.T) {
	cli := filepath.Join(t.TempDir(), "config.json")
	broken := `{"current":"dev","profiles":[{"name":"dev","mode":"AK","access_key_id":"cliAK","access_key_secret":"` + testSecret + `"},]}`
	if err := os.WriteFile(cli, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Find(func(k string) string { return map[string]string{"ALIBABA_CLOUD_CONFIG_FILE": cli}[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Provider.GetCredentials()
	if err == nil {
		t.Fatal("a broken config.json gave credentials")
	}
	if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "cliAK") {
		t.Fatalf("the error quotes the file: %s", strings.ReplaceAll(err.Error(), testSecret, "<the secret>"))
	}
	if !strings.Contains(err.Error(), cli) || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("the error does not say which file is broken, and how: %v", err)
	}
}
