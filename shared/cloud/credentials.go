package cloud

import (
	"fmt"
	"sync"

	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/certdrop/certdrop/internal/credchain"
)

// ErrNoCredentials is returned by New when no credentials are found: none
// given and none in the chain the OSS store uses too (internal/credchain:
// environment, OIDC/RRSA, CLI profile, ECS RAM role).
var ErrNoCredentials = credchain.ErrNone

// credentialSource hands credentials to the SDK (it is a credentials-go
// provider) and remembers every secret and token it handed out, so that
// errors can be scrubbed of them.
type credentialSource struct {
	name   string
	static *credchain.Credentials
	inner  providers.CredentialsProvider
	// role, when set, is a RAM role's temporary credentials (AssumeRole).
	role *roleSource

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
	inner := s.inner
	if s.role != nil {
		inner = s.role
	}
	c, err := inner.GetCredentials()
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

func staticSource(name string, c credchain.Credentials) *credentialSource {
	s := &credentialSource{name: name, static: &c}
	s.remember(c.AccessKeySecret, c.SecurityToken)
	return s
}

// resolveCredentials picks the credentials: the ones given (Function
// Compute's, per invocation), else the first source of the chain the OSS
// store uses too (internal/credchain: the environment, OIDC/RRSA, the
// Alibaba Cloud CLI profile, the ECS RAM role named by
// ALIBABA_CLOUD_ECS_METADATA). It fails with ErrNoCredentials when there
// are none, and asks the source once now, so that an unusable one fails
// before any call.
func resolveCredentials(given *credchain.Credentials, getenv func(string) string) (*credentialSource, error) {
	if given != nil {
		if !given.Complete() {
			return nil, fmt.Errorf("the credentials given have no AccessKey ID or secret: %w", ErrNoCredentials)
		}
		return staticSource("given", *given), nil
	}
	found, err := credchain.Find(getenv)
	if err != nil {
		return nil, err
	}
	src := &credentialSource{name: found.Name, inner: found.Provider}
	if _, err := src.GetCredentials(); err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrNoCredentials)
	}
	return src, nil
}
