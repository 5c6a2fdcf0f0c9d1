package renew

import (
	"context"
	"fmt"
	"sync"

	"github.com/libdns/cloudflare"

	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	esadns "github.com/certdrop/certdrop/shared/dnsprovider/esa"
	"github.com/certdrop/certdrop/shared/dnsprovider/rfc2136"
	"github.com/certdrop/certdrop/shared/manifest"
)

// NewProviders returns the built-in DNS providers: alidns and esa
// (shared/dnsprovider/esa: ESA sites whose DNS ESA hosts) through caller
// (certdrop's OpenAPI client, built lazily by the caller so that a run
// without alidns or esa certificates needs no Alibaba Cloud credentials),
// cloudflare (github.com/libdns/cloudflare) and rfc2136
// (shared/dnsprovider/rfc2136, whose refusals name the TSIG error). Their secrets come from the environment
// variables the manifest names; a variable that is not set is an error
// naming it, and so is a variable a manifest may not name
// (manifest.CheckSecretEnv): the manifest's rule holds for a caller that
// builds a Certificate itself.
func NewProviders(getenv func(string) string, caller func(ctx context.Context) (alidns.Caller, error)) ProviderFactory {
	// built holds the OpenAPI providers (alidns, esa), each built once,
	// on first use, with the client caller returns.
	var mu sync.Mutex
	built := map[string]Provider{}
	openAPI := func(ctx context.Context, name string, build func(cl alidns.Caller) (Provider, error)) (Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := built[name]; ok {
			return p, nil
		}
		if caller == nil {
			return nil, fmt.Errorf("no Alibaba Cloud API client")
		}
		cl, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		p, err := build(cl)
		if err != nil {
			return nil, err
		}
		built[name] = p
		return p, nil
	}
	return func(ctx context.Context, c manifest.Certificate) (Provider, error) {
		switch c.DNS.Provider {
		case manifest.DNSAlidns:
			return openAPI(ctx, c.DNS.Provider, func(cl alidns.Caller) (Provider, error) { return alidns.New(cl, getenv) })
		case manifest.DNSESA:
			return openAPI(ctx, c.DNS.Provider, func(cl alidns.Caller) (Provider, error) { return esadns.New(cl, getenv) })
		case manifest.DNSCloudflare:
			if err := manifest.CheckSecretEnv(c.DNS.APITokenEnv); err != nil {
				return nil, fmt.Errorf("apiTokenEnv: %w", err)
			}
			tok := getenv(c.DNS.APITokenEnv)
			if tok == "" {
				return nil, fmt.Errorf("set %s to a Cloudflare API token with Zone.DNS:Edit", c.DNS.APITokenEnv)
			}
			return &cloudflare.Provider{APIToken: tok}, nil
		case manifest.DNSRFC2136:
			p := &rfc2136.Provider{Server: c.DNS.Server, KeyName: c.DNS.KeyName, KeyAlg: c.DNS.KeyAlg, KeyEnv: c.DNS.KeyEnv}
			if c.DNS.KeyEnv != "" {
				if err := manifest.CheckSecretEnv(c.DNS.KeyEnv); err != nil {
					return nil, fmt.Errorf("keyEnv: %w", err)
				}
				if p.Key = getenv(c.DNS.KeyEnv); p.Key == "" {
					return nil, fmt.Errorf("set %s to the TSIG key's base64 secret", c.DNS.KeyEnv)
				}
			}
			return p, nil
		}
		return nil, fmt.Errorf("unknown DNS provider %q", c.DNS.Provider)
	}
}
