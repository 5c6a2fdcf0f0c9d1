package cloud

import (
	"testing"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
)

// leaks collects every error the client tests produce and every log line
// the clients write, and the secrets they must never contain; TestMain
// checks them all after the tests ran.
var leaks = &testutil.LeakCheck{Renderings: func(err error) []string {
	if e, ok := err.(*Error); ok {
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

// env is a test environment: the test credentials, and kv.
func env(kv ...string) func(string) string {
	m := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     testAK,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": testSK,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// newClient builds a client with the leak checker's logger.
func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	if o.Logger == nil {
		o.Logger = leaks.Logger()
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
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
