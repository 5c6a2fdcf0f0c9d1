package cloud

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aliyun/credentials-go/credentials/providers"
)

// ErrNoCredentials is returned by New when no credentials are found: none
// given, none in the environment, no Alibaba Cloud CLI profile.
var ErrNoCredentials = errors.New("no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET " +
	"(and ALIBABA_CLOUD_SECURITY_TOKEN for STS), configure an Alibaba Cloud CLI profile, or give the function a role")

// Credentials are an AccessKey pair, with the security token of an STS
// assumption. They format and log with the secret and token redacted.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Format prints only the AccessKey ID, for every verb.
func (c Credentials) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "Credentials{AccessKeyID:%s <redacted>}", c.AccessKeyID)
}

// LogValue logs only the AccessKey ID.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.AccessKeyID) }

func (c Credentials) complete() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

// The headers in which Function Compute passes the function role's
// temporary credentials to each invocation.
const (
	HeaderFCAccessKeyID     = "x-fc-access-key-id"
	HeaderFCAccessKeySecret = "x-fc-access-key-secret"
	HeaderFCSecurityToken   = "x-fc-security-token"
)

// CredentialsFromFC returns the per-invocation credentials Function
// Compute passes in an invocation's headers, and whether they are there.
func CredentialsFromFC(h http.Header) (Credentials, bool) {
	c := Credentials{
		AccessKeyID:     h.Get(HeaderFCAccessKeyID),
		AccessKeySecret: h.Get(HeaderFCAccessKeySecret),
		SecurityToken:   h.Get(HeaderFCSecurityToken),
	}
	return c, c.complete()
}

// credentialsFromEnv reads the standard variables.
func credentialsFromEnv(getenv func(string) string) (Credentials, bool) {
	c := Credentials{
		AccessKeyID:     getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
		AccessKeySecret: getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		SecurityToken:   getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
	}
	return c, c.complete()
}

// credentialSource hands credentials to the SDK (it is a credentials-go
// provider) and remembers every secret and token it handed out, so that
// errors can be scrubbed of them.
type credentialSource struct {
	name   string
	static *Credentials
	inner  providers.CredentialsProvider

	mu      sync.Mutex
	secrets map[string]bool
}

// GetProviderName implements providers.CredentialsProvider.
func (s *credentialSource) GetProviderName() string { return s.name }

// GetCredentials implements providers.CredentialsProvider.
func (s *credentialSource) GetCredentials() (*providers.Credentials, error) {
	if s.static != nil {
		c := s.static
		return &providers.Credentials{AccessKeyId: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret,
			SecurityToken: c.SecurityToken, ProviderName: s.name}, nil
	}
	c, err := s.inner.GetCredentials()
	if err != nil {
		return nil, &credentialError{source: s.name, msg: err.Error()}
	}
	if c.AccessKeyId == "" || c.AccessKeySecret == "" {
		return nil, &credentialError{source: s.name, msg: "it holds no AccessKey"}
	}
	s.remember(c.AccessKeySecret, c.SecurityToken)
	return c, nil
}

func (s *credentialSource) remember(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets == nil {
		s.secrets = map[string]bool{}
	}
	for _, v := range vals {
		if v != "" {
			s.secrets[v] = true
		}
	}
}

// secretValues returns every secret and token handed out so far.
func (s *credentialSource) secretValues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.secrets))
	for v := range s.secrets {
		out = append(out, v)
	}
	return out
}

// credentialError is a failure to obtain credentials: the run cannot
// make any call.
type credentialError struct {
	source string
	msg    string
}

// Error names the source; the inner message holds no secret.
func (e *credentialError) Error() string {
	return "getting Alibaba Cloud credentials from " + e.source + ": " + e.msg
}

func staticSource(name string, c Credentials) *credentialSource {
	s := &credentialSource{name: name, static: &c}
	s.remember(c.AccessKeySecret, c.SecurityToken)
	return s
}

// resolveCredentials picks the credentials: the ones given, then the
// environment (ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET, ALIBABA_CLOUD_SECURITY_TOKEN),
// then the Alibaba Cloud CLI profile (ALIBABA_CLOUD_CONFIG_FILE or
// ~/.aliyun/config.json, profile ALIBABA_CLOUD_PROFILE or the current one).
// It fails with ErrNoCredentials when there are none, before any call.
func resolveCredentials(given *Credentials, getenv func(string) string) (*credentialSource, error) {
	if given != nil {
		if !given.complete() {
			return nil, fmt.Errorf("the credentials given have no AccessKey ID or secret: %w", ErrNoCredentials)
		}
		return staticSource("given", *given), nil
	}
	c, ok := credentialsFromEnv(getenv)
	if ok {
		return staticSource("environment", c), nil
	}
	if (c.AccessKeyID == "") != (c.AccessKeySecret == "") {
		missing := "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
		if c.AccessKeyID == "" {
			missing = "ALIBABA_CLOUD_ACCESS_KEY_ID"
		}
		return nil, fmt.Errorf("%s is not set while its other half is: %w", missing, ErrNoCredentials)
	}
	if strings.EqualFold(getenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED"), "true") {
		return nil, ErrNoCredentials
	}
	file := getenv("ALIBABA_CLOUD_CONFIG_FILE")
	if file == "" {
		home := getenv("HOME")
		if home == "" {
			return nil, ErrNoCredentials
		}
		file = filepath.Join(home, ".aliyun", "config.json")
	}
	if _, err := os.Stat(file); err != nil {
		return nil, ErrNoCredentials
	}
	p, err := providers.NewCLIProfileCredentialsProviderBuilder().
		WithProfileFile(file).WithProfileName(getenv("ALIBABA_CLOUD_PROFILE")).Build()
	if err != nil {
		return nil, fmt.Errorf("the Alibaba Cloud CLI profile %s: %v: %w", file, err, ErrNoCredentials)
	}
	src := &credentialSource{name: "CLI profile " + file, inner: p}
	// Fail now, not at the first call, when the profile holds nothing usable.
	if _, err := src.GetCredentials(); err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrNoCredentials)
	}
	return src, nil
}
