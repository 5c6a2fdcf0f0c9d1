// Package credchain finds Alibaba Cloud credentials the one way certdrop
// uses for every client, the OpenAPI clients and the OSS
// store alike, so that a command that can read the bucket can also call the
// APIs and the other way round. It builds on credentials-go's providers and
// reads the environment only through the getenv it is given.
//
// When the caller has no per-invocation credentials (Function Compute
// passes the role's in x-fc-* headers), the sources are tried in this
// order:
//
//  1. ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (with
//     ALIBABA_CLOUD_SECURITY_TOKEN for STS). Setting only one is an error.
//  2. OIDC / RRSA: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN
//     and ALIBABA_CLOUD_OIDC_TOKEN_FILE (ACK's RRSA sets them).
//  3. The Alibaba Cloud CLI profile: ALIBABA_CLOUD_CONFIG_FILE or
//     ~/.aliyun/config.json, profile ALIBABA_CLOUD_PROFILE or the current
//     one; ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true skips it.
//  4. The ECS instance's RAM role named by ALIBABA_CLOUD_ECS_METADATA (the
//     metadata service is asked only when a role is named, so a machine
//     without one does not wait on it).
//
// The first source configured is used; a configured source that then fails
// (an expired OIDC token, a profile without the named entry) is reported,
// not skipped, so that the credentials used are never a surprise.
package credchain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aliyun/credentials-go/credentials/providers"
)

// ErrNone is returned when no source of credentials is configured.
var ErrNone = errors.New("no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET " +
	"(and ALIBABA_CLOUD_SECURITY_TOKEN for STS), configure OIDC/RRSA (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, " +
	"ALIBABA_CLOUD_OIDC_TOKEN_FILE), an Alibaba Cloud CLI profile, or ALIBABA_CLOUD_ECS_METADATA=<the instance's RAM role>; " +
	"the function gets its role's credentials from Function Compute")

// Source is where credentials are found.
type Source struct {
	// Name says which source it is ("environment", "OIDC role <arn>",
	// "CLI profile <file>", "ECS RAM role <name>"); it holds no secret.
	Name string
	// Provider hands out the credentials, refreshing temporary ones.
	Provider providers.CredentialsProvider
}

// Find returns the first configured source, or an error wrapping ErrNone.
// It makes no request: the provider asks STS or the metadata service when
// first used.
func Find(getenv func(string) string) (*Source, error) {
	id, secret, token := getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), getenv("ALIBABA_CLOUD_SECURITY_TOKEN")
	switch {
	case id != "" && secret != "":
		var p providers.CredentialsProvider
		var err error
		if token != "" {
			p, err = providers.NewStaticSTSCredentialsProviderBuilder().WithAccessKeyId(id).WithAccessKeySecret(secret).WithSecurityToken(token).Build()
		} else {
			p, err = providers.NewStaticAKCredentialsProviderBuilder().WithAccessKeyId(id).WithAccessKeySecret(secret).Build()
		}
		if err != nil {
			return nil, fmt.Errorf("the environment's credentials: %w", ErrNone)
		}
		return &Source{Name: "environment", Provider: p}, nil
	case id != "" || secret != "":
		missing := "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
		if id == "" {
			missing = "ALIBABA_CLOUD_ACCESS_KEY_ID"
		}
		return nil, fmt.Errorf("%s is not set while its other half is: %w", missing, ErrNone)
	}
	if arn, oidc, file := getenv("ALIBABA_CLOUD_ROLE_ARN"), getenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"), getenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE"); arn != "" || oidc != "" || file != "" {
		if arn == "" || oidc == "" || file == "" {
			return nil, fmt.Errorf("OIDC credentials need ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE together: %w", ErrNone)
		}
		session := getenv("ALIBABA_CLOUD_ROLE_SESSION_NAME")
		if session == "" {
			session = "certdrop"
		}
		b := providers.NewOIDCCredentialsProviderBuilder().WithRoleArn(arn).WithOIDCProviderARN(oidc).
			WithOIDCTokenFilePath(file).WithRoleSessionName(session)
		if r := getenv("ALIBABA_CLOUD_STS_REGION"); r != "" {
			b = b.WithStsRegionId(r)
		}
		p, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("OIDC role %s: %v: %w", arn, err, ErrNone)
		}
		return &Source{Name: "OIDC role " + arn, Provider: p}, nil
	}
	if !strings.EqualFold(getenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED"), "true") {
		file := getenv("ALIBABA_CLOUD_CONFIG_FILE")
		if file == "" && getenv("HOME") != "" {
			file = filepath.Join(getenv("HOME"), ".aliyun", "config.json")
		}
		if file != "" {
			if _, err := os.Stat(file); err == nil {
				p, err := providers.NewCLIProfileCredentialsProviderBuilder().WithProfileFile(file).WithProfileName(getenv("ALIBABA_CLOUD_PROFILE")).Build()
				if err != nil {
					return nil, fmt.Errorf("the Alibaba Cloud CLI profile %s: %v: %w", file, err, ErrNone)
				}
				return &Source{Name: "CLI profile " + file, Provider: quietProfile{p}}, nil
			}
		}
	}
	if role := getenv("ALIBABA_CLOUD_ECS_METADATA"); role != "" && !strings.EqualFold(getenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED"), "true") {
		p, err := providers.NewECSRAMRoleCredentialsProviderBuilder().WithRoleName(role).
			WithDisableIMDSv1(strings.EqualFold(getenv("ALIBABA_CLOUD_IMDSV1_DISABLED"), "true")).Build()
		if err != nil {
			return nil, fmt.Errorf("ECS RAM role %s: %v: %w", role, err, ErrNone)
		}
		return &Source{Name: "ECS RAM role " + role, Provider: p}, nil
	}
	return nil, ErrNone
}

// quietProfile is the CLI profile provider with its errors kept from
// quoting the profile file: credentials-go's puts the whole config.json,
// AccessKey secrets included, into its error when the file is not valid
// JSON ("unmarshal aliyun cli config from '<file>' failed: <content>").
type quietProfile struct {
	providers.CredentialsProvider
}

// GetCredentials returns the profile's credentials, or an error that names
// the file but does not quote it.
func (q quietProfile) GetCredentials() (*providers.Credentials, error) {
	c, err := q.CredentialsProvider.GetCredentials()
	if err != nil {
		return nil, errors.New(unquoteProfile(err.Error()))
	}
	return c, nil
}

// unquoteProfile cuts the file content out of a CLI profile error.
func unquoteProfile(msg string) string {
	const marker = "unmarshal aliyun cli config from '"
	i := strings.Index(msg, marker)
	if i < 0 {
		return msg
	}
	j := strings.Index(msg[i+len(marker):], "' failed")
	if j < 0 {
		return msg[:i] + "the Alibaba Cloud CLI profile file is not valid JSON"
	}
	return msg[:i+len(marker)+j] + "' failed: the file is not valid JSON"
}
