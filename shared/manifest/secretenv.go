package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/certdrop/certdrop/shared/config"
)

// SecretEnvPrefix starts the name of every environment variable a manifest
// may name (eab.keyIdEnv, eab.macKeyEnv, dns.apiTokenEnv, dns.keyEnv).
//
// Whoever writes the manifest chooses the variable, and certdrop sends its
// value to a server the same writer chooses (an EAB key ID to the issuer, a
// token to a DNS API). The function's environment also holds its own
// credentials (ALIBABA_CLOUD_*, FC_*) and settings, so a manifest may reach
// only the variables the operator set for it, recognisable by this prefix.
const SecretEnvPrefix = config.SecretPrefix

// ErrSecretEnv is wrapped by CheckSecretEnv's errors: a manifest names a
// variable it may not.
var ErrSecretEnv = errors.New("not a variable a manifest may name")

// secretEnvName is a variable a manifest may name: the prefix and at least
// one more character, 128 at most.
var secretEnvName = regexp.MustCompile(`^` + SecretEnvPrefix + `[A-Za-z0-9_]{1,112}$`)

// credentialEnvPrefixes start the function's own credentials and runtime
// settings (AccessKey, STS token, region, account).
var credentialEnvPrefixes = []string{"ALIBABA_CLOUD_", "FC_"}

// CheckSecretEnv reports whether a manifest may name the environment
// variable name: one that starts with SecretEnvPrefix. The error never
// repeats name when it is not a variable name at all (it may be the
// secret, pasted in by mistake).
func CheckSecretEnv(name string) error {
	switch {
	case secretEnvName.MatchString(name):
		return nil
	case !envName.MatchString(name):
		return fmt.Errorf("%w: give the name of an environment variable, never the secret itself", ErrSecretEnv)
	case strings.HasPrefix(name, SecretEnvPrefix):
		return fmt.Errorf("%w: %s needs a name after the prefix, such as %sNAME", ErrSecretEnv, name, SecretEnvPrefix)
	}
	for _, p := range credentialEnvPrefixes {
		if strings.HasPrefix(strings.ToUpper(name), p) {
			return fmt.Errorf("%w: %s is one of the function's own credentials or settings; "+
				"a manifest may name only variables that start with %s", ErrSecretEnv, name, SecretEnvPrefix)
		}
	}
	hint := SecretEnvPrefix + strings.TrimPrefix(strings.ToUpper(name), SecretEnvPrefix)
	if len(hint) > 128 || !secretEnvName.MatchString(hint) {
		hint = SecretEnvPrefix + "NAME"
	}
	return fmt.Errorf("%w: %s does not start with %s (set the secret in a variable such as %s)", ErrSecretEnv, name, SecretEnvPrefix, hint)
}
