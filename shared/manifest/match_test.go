package manifest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// newLeaf generates a self-signed certificate with the given subject CN
// and DNS SANs.
func newLeaf(t *testing.T, cn string, sans ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     sans,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// names renders targets as "product domain" for comparison.
func names(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

func TestMatch(t *testing.T) {
	m, err := parseTest("m.yaml", []byte(lines(
		"version: 1",
		"targets:",
		"  - product: cdn",
		"    domains: [www.example.com, img.example.com, '*.example.com', www.other.com]",
		"  - product: vod",
		"    domain: vod.example.com",
		"    bundle: certs/example.com/",
		"  - product: live",
		"    domain: pull.other.com",
		"    bundle: certs/example.com/",
		"  - product: live",
		"    domain: pull.example.com",
		"    bundle: certs/elsewhere/",
		"  - product: cdn-legacy",
		"    domain: legacy.example.com",
		"    bundle: certs/",
	)))
	if err != nil {
		t.Fatal(err)
	}
	wildcard := newLeaf(t, "example.com", "example.com", "*.example.com")
	tests := []struct {
		name           string
		leaf           *x509.Certificate
		key            string
		wantCovered    []string
		wantNotCovered []string
	}{
		{
			name: "wildcard leaf at its bound key",
			leaf: wildcard,
			key:  "certs/example.com/fullchain.pem",
			wantCovered: []string{
				"cdn www.example.com", "cdn img.example.com", "cdn *.example.com",
				"vod vod.example.com", "cdn-legacy legacy.example.com",
			},
			// pull.other.com is bound to this key and not covered: reported.
			// pull.example.com is bound to another key: not this bundle's.
			wantNotCovered: []string{"live pull.other.com"},
		},
		{
			name: "unknown key: prefixes not checked, nothing is known to be bound",
			leaf: wildcard,
			key:  "",
			wantCovered: []string{
				"cdn www.example.com", "cdn img.example.com", "cdn *.example.com",
				"vod vod.example.com", "live pull.example.com", "cdn-legacy legacy.example.com",
			},
		},
		{
			name: "the other bound key",
			leaf: wildcard,
			key:  "certs/elsewhere/example.com.cer",
			wantCovered: []string{
				"cdn www.example.com", "cdn img.example.com", "cdn *.example.com",
				"live pull.example.com", "cdn-legacy legacy.example.com",
			},
		},
		{
			name: "a key no prefix matches gets only unbound targets",
			leaf: wildcard,
			key:  "uploads/example.com/fullchain.pem",
			wantCovered: []string{
				"cdn www.example.com", "cdn img.example.com", "cdn *.example.com",
			},
		},
		{
			name:           "a single-name leaf: wildcard targets need the wildcard SAN",
			leaf:           newLeaf(t, "www.example.com", "www.example.com", "img.example.com"),
			key:            "certs/example.com/fullchain.pem",
			wantCovered:    []string{"cdn www.example.com", "cdn img.example.com"},
			wantNotCovered: []string{"vod vod.example.com", "live pull.other.com", "cdn-legacy legacy.example.com"},
		},
		{
			name:        "another certificate covers only its own unbound targets",
			leaf:        newLeaf(t, "other.com", "other.com", "*.other.com"),
			key:         "certs/other.com/fullchain.pem",
			wantCovered: []string{"cdn www.other.com"},
			// Only the cdn-legacy target is bound to certs/ and not covered.
			wantNotCovered: []string{"cdn-legacy legacy.example.com"},
		},
		{
			// Browsers and Go ignore the CN.
			name: "subject CN does not count when there are no SANs",
			leaf: newLeaf(t, "www.example.com"),
			key:  "",
		},
		{
			name:           "nil leaf covers nothing",
			leaf:           nil,
			key:            "certs/example.com/x.pem",
			wantNotCovered: []string{"vod vod.example.com", "live pull.other.com", "cdn-legacy legacy.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			covered, notCovered := m.Match(tt.leaf, tt.key)
			if got := names(covered); !reflect.DeepEqual(got, tt.wantCovered) {
				t.Errorf("covered = %q\nwant      %q", got, tt.wantCovered)
			}
			if got := names(notCovered); !reflect.DeepEqual(got, tt.wantNotCovered) {
				t.Errorf("notCovered = %q\nwant         %q", got, tt.wantNotCovered)
			}
		})
	}
}

// TestMatchDemo checks that the demo manifest and the demo bundle agree:
// a certificate for certdrop-demo.test and *.certdrop-demo.test covers
// every target of testdata/manifests/demo.yaml.
func TestMatchDemo(t *testing.T) {
	m, err := loadTest(filepath.Join(manifestsDir, "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	leaf := newLeaf(t, "certdrop-demo.test", "certdrop-demo.test", "*.certdrop-demo.test")
	covered, notCovered := m.Match(leaf, "certs/certdrop-demo.test/fullchain.pem")
	want := []string{
		"cdn www.certdrop-demo.test", "cdn img.certdrop-demo.test", "cdn *.certdrop-demo.test",
		"vod vod.certdrop-demo.test", "live pull.certdrop-demo.test",
	}
	if got := names(covered); !reflect.DeepEqual(got, want) || len(notCovered) != 0 {
		t.Errorf("covered = %q, notCovered = %q; want %q and none", got, names(notCovered), want)
	}
}
