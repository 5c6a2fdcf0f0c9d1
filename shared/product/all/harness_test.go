package all_test

import (
	"context"
	"testing"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// The products' tests through the transport against the emulator (and a
// fake OSS): every product set and described, the error classes, the
// secrets never echoed, the endpoints, connection reuse and concurrency,
// delivery by CAS.

// leaks collects every error the client tests produce and every log line
// the clients write, and the secrets they must never contain; TestMain
// checks them all after the tests ran.
var leaks = &testutil.LeakCheck{Renderings: func(err error) []string {
	if e, ok := err.(*cloud.Error); ok {
		return []string{e.Message, e.Hint}
	}
	return nil
}}

func TestMain(m *testing.M) { leaks.Main(m) }

// Test credentials: the secret and token are registered as secrets.
const (
	testAK     = "simAK"
	testSK     = "simSK-0123456789abcdef"
	testSTSAK  = "STS.simAK"
	testSTSSK  = "stsSK-fedcba9876543210"
	testToken  = "stsTOKEN-CAIS0123456789abcdefghijklmnop"
	testDomain = "certdrop.test"
)

func init() { leaks.Secret(testSK, testSTSSK, testToken) }

// simConfig is the account the client tests run against.
func simConfig() cloudsim.Config {
	return cloudsim.Config{
		Credentials: []cloudsim.Credential{
			{AccessKeyID: testAK, AccessKeySecret: testSK},
			{AccessKeyID: testSTSAK, AccessKeySecret: testSTSSK, SecurityToken: testToken},
			{AccessKeyID: "expired", AccessKeySecret: testSK, SecurityToken: testToken, Expired: true},
			{AccessKeyID: "readonly", AccessKeySecret: testSK, DenyActions: []string{"SetCdnDomainSSLCertificate"}},
		},
		Domains: cloudsim.Domains{
			CDN: []cloudsim.Domain{
				{Name: "www." + testDomain}, {Name: "img." + testDomain}, {Name: "." + testDomain},
				{Name: "old." + testDomain, State: cloudsim.StateOffline},
				{Name: "busy." + testDomain, State: cloudsim.StateConfiguring},
				{Name: "safe." + testDomain, State: cloudsim.StateSafeMode},
			},
			VOD:  []cloudsim.Domain{{Name: "vod." + testDomain}, {Name: "vod-sg." + testDomain}},
			Live: []cloudsim.Domain{{Name: "pull." + testDomain}},
		},
		OSS: cloudsim.OSSSettings{Disabled: true},
	}
}

// env is a test environment: endpoints pointed at the emulator, the test
// credentials.
func env(s *cloudsim.Sim, kv ...string) func(string) string {
	m := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     testAK,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": testSK,
	}
	if s != nil {
		ep := s.Endpoints().OpenAPI
		m[cdn.EnvEndpoint], m[vod.EnvEndpoint], m[live.EnvEndpoint] = ep, ep, ep
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// newClient builds a client with the leak checker's logger.
func newClient(t *testing.T, o cloud.Options) *product.Client {
	t.Helper()
	if o.Logger == nil {
		o.Logger = leaks.Logger()
	}
	c, err := all.Products().NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Transport().CloseIdleConnections)
	return c
}

// once makes each call once, as product.Once does, and keeps the
// RequestId of the last.
type once struct{ rid string }

func (o *once) Call(_ context.Context, _ plan.API, send func() (string, error)) error {
	var err error
	o.rid, err = send()
	return err
}

// testBundle issues a certificate for names under a throwaway CA and
// parses it as certdrop does; its key is registered as a secret.
func testBundle(t testing.TB, names ...string) *bundle.Bundle {
	t.Helper()
	b, key := cloudsimtest.Bundle(t, names...)
	leaks.SecretPEM(b.KeyPEM().Reveal())
	leaks.SecretPEM(string(key))
	return b
}

// planFor plans the bundle onto targets and returns the calls by domain.
func planFor(t testing.TB, b *bundle.Bundle, targets ...manifest.Target) map[string]plan.Call {
	t.Helper()
	p, err := plan.Build(b, &manifest.Manifest{Version: 1, Targets: targets}, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]plan.Call{}
	for _, c := range p.Calls {
		calls[string(c.Target.Product)+" "+c.Target.Domain] = c
	}
	if len(calls) != len(targets) {
		t.Fatalf("planned %d calls for %d targets", len(calls), len(targets))
	}
	return calls
}

// The client calls Alibaba Cloud DNS for the renewer as it calls the
// products.
var _ alidns.Caller = (*product.Client)(nil)
