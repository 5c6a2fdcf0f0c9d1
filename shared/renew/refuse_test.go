package renew_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
)

// TestSecretVarsRefusedAtUse: a Certificate that did not come through
// Parse and names the function's credentials, its settings or any variable
// without the CERTDROP_SECRET_ prefix is refused before a variable is read
// or the CA is asked anything, so the function's AccessKey secret never
// reaches a CA as an EAB key ID or a DNS API as a token.
func TestSecretVarsRefusedAtUse(t *testing.T) {
	h := newHarness(t, harnessOpts{requireEAB: true})
	h.env["CERTDROP_SECRET_EAB_KID"], h.env["CERTDROP_SECRET_EAB_HMAC"] = eabKID, eabMAC
	h.env["ZEROSSL_EAB_KID"] = eabKID
	var mu sync.Mutex
	var read []string
	getenv := func(k string) string {
		mu.Lock()
		read = append(read, k)
		mu.Unlock()
		return h.getenv(k)
	}
	client := h.client
	eng := h.engine(func(o *renew.Options) {
		o.Getenv = getenv
		o.Providers = renew.NewProviders(getenv, func(context.Context) (alidns.Caller, error) { return client, nil })
	})
	tests := []struct {
		name  string
		eab   *manifest.EAB
		dns   manifest.DNS
		field string
	}{
		{"eab key id from the AccessKey secret", &manifest.EAB{KeyIDEnv: "ALIBABA_CLOUD_ACCESS_KEY_SECRET", MACKeyEnv: "CERTDROP_SECRET_EAB_HMAC"},
			manifest.DNS{Provider: manifest.DNSAlidns}, "eab.keyIdEnv"},
		{"eab mac key from the region", &manifest.EAB{KeyIDEnv: "CERTDROP_SECRET_EAB_KID", MACKeyEnv: "FC_REGION"},
			manifest.DNS{Provider: manifest.DNSAlidns}, "eab.macKeyEnv"},
		{"eab from an unprefixed variable", &manifest.EAB{KeyIDEnv: "ZEROSSL_EAB_KID", MACKeyEnv: "CERTDROP_SECRET_EAB_HMAC"},
			manifest.DNS{Provider: manifest.DNSAlidns}, "eab.keyIdEnv"},
		{"cloudflare token from the STS token", &manifest.EAB{KeyIDEnv: "CERTDROP_SECRET_EAB_KID", MACKeyEnv: "CERTDROP_SECRET_EAB_HMAC"},
			manifest.DNS{Provider: manifest.DNSCloudflare, APITokenEnv: "ALIBABA_CLOUD_SECURITY_TOKEN"}, "dns.apiTokenEnv"},
		{"tsig secret from the AccessKey secret", &manifest.EAB{KeyIDEnv: "CERTDROP_SECRET_EAB_KID", MACKeyEnv: "CERTDROP_SECRET_EAB_HMAC"},
			manifest.DNS{Provider: manifest.DNSRFC2136, Server: "127.0.0.1:53", KeyName: "k.", KeyAlg: "hmac-sha256.", KeyEnv: "ALIBABA_CLOUD_ACCESS_KEY_SECRET"}, "dns.keyEnv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read = nil
			c := h.cert("refused", "example.test")
			c.EAB, c.DNS = tt.eab, tt.dns
			r := h.run(h.ctx, eng, []manifest.Certificate{c}, renew.RunOptions{Force: true})[0]
			if r.Renewed || !errors.Is(r.Error, renew.ErrRefused) || !errors.Is(r.Error, manifest.ErrSecretEnv) || !strings.Contains(r.Error.Error(), tt.field) {
				t.Fatalf("result %+v; want refused naming %s", r, tt.field)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range read {
				if !strings.HasPrefix(k, manifest.SecretEnvPrefix) {
					t.Errorf("the engine read %s", k)
				}
			}
		})
	}
	if n, _ := h.acme("newAccount"); n != 0 {
		t.Errorf("%d accounts registered for refused certificates", n)
	}
	if n, _ := h.acme("newOrder"); n != 0 {
		t.Errorf("%d orders placed for refused certificates", n)
	}
}

// TestDirectoryAtMetadataAddress: a Certificate that did not come through
// Parse, whose directory is at the instance metadata address in any form,
// is refused before a request is sent.
func TestDirectoryAtMetadataAddress(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	eng := h.engine(nil)
	for _, dir := range []string{
		"https://100.100.100.200/latest/meta-data/", "https://169.254.169.254/dir", "https://2852039166/dir",
		"https://0xa9fea9fe/dir", "https://[::ffff:a9fe:a9fe]/dir", "https://[fe80::1%25eth0]/dir", "http://169.254.169.254/dir",
	} {
		c := h.cert("meta", "example.test")
		c.Issuer, c.Directory = dir, dir
		start := time.Now()
		r := h.run(h.ctx, eng, []manifest.Certificate{c}, renew.RunOptions{Force: true})[0]
		if r.Renewed || !errors.Is(r.Error, renew.ErrRefused) || !errors.Is(r.Error, secureurl.ErrMetadataAddress) {
			t.Errorf("directory %s: %+v; want refused", dir, r)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("directory %s: refused after %s, not before a request", dir, d)
		}
	}
}

// TestDirectoryHandsOutMetadataURLs: a CA whose directory points its
// nonce and account URLs at the instance metadata address (literal or
// IPv4-mapped) gets no request sent there: the account registration fails
// at once with ErrMetadataAddress.
func TestDirectoryHandsOutMetadataURLs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, host := range []string{"169.254.169.254", "[::ffff:169.254.169.254]", "100.100.100.200", "2852039166"} {
		t.Run(host, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				base := "https://" + host
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]string{
					"newNonce": base + "/nonce", "newAccount": base + "/acct", "newOrder": base + "/order",
					"revokeCert": base + "/revoke", "keyChange": base + "/key",
				})
			}))
			defer srv.Close()
			// The engine builds its own client (Roots, not HTTPClient), the
			// one the function runs with.
			eng := h.engine(func(o *renew.Options) { o.Roots = []*x509.Certificate{h.caRoot, srv.Certificate()} })
			c := h.cert("handout", "example.test")
			c.Issuer, c.Directory = srv.URL+"/dir", srv.URL+"/dir"
			start := time.Now()
			r := h.run(h.ctx, eng, []manifest.Certificate{c}, renew.RunOptions{Force: true})[0]
			if r.Renewed || !errors.Is(r.Error, secureurl.ErrMetadataAddress) {
				t.Errorf("%+v; want ErrMetadataAddress", r)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %s, not before a connection", d)
			}
		})
	}
}
