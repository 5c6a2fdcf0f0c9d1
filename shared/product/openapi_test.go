package product

import (
	"crypto/sha1"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
)

// testBundle issues a certificate for names under a throwaway CA and
// parses it as certdrop does.
func testBundle(t testing.TB, names ...string) *bundle.Bundle {
	t.Helper()
	b, _ := cloudsimtest.Bundle(t, names...)
	return b
}

// TestParseCertInfo: every shape of a Describe*CertificateInfo answer.
func TestParseCertInfo(t *testing.T) {
	b := testBundle(t, "www.certdrop.test")
	chain := b.CertPEM()
	fp, notBefore, notAfter := b.Identity().Fingerprint, b.Identity().NotBefore, b.Identity().NotAfter
	info := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	wrap := func(items ...any) map[string]any {
		return map[string]any{"RequestId": "R1", "CertInfos": map[string]any{"CertInfo": items}}
	}
	tests := []struct {
		name     string
		body     map[string]any
		certName string
		fp       string
		notAfter time.Time
		https    bool
		// notBefore is checked when set.
		notBefore time.Time
	}{
		{"cdn shape", wrap(info("DomainName", "www.certdrop.test", "CertName", "n", "ServerCertificateStatus", "on",
			"ServerCertificate", chain, "CertExpireTime", "2001-01-01T00:00:00Z", "CertStartTime", "2000-01-01T00:00:00Z")), "n", fp, notAfter, true, notBefore},
		{"live shape", wrap(info("DomainName", "www.certdrop.test", "CertName", "n", "SSLProtocol", "on", "SSLPub", chain)), "n", fp, notAfter, true, notBefore},
		{"CRLF PEM", wrap(info("CertName", "n", "SSLProtocol", "on", "SSLPub", strings.ReplaceAll(chain, "\n", "\r\n"))), "n", fp, notAfter, true, time.Time{}},
		{"no PEM: expiry from CertExpireTime, issue date from CertStartTime", wrap(info("CertName", "n", "ServerCertificateStatus", "on",
			"CertExpireTime", "2030-06-03T22:03:39Z", "CertStartTime", "2029-06-03T22:03:39Z")),
			"n", "", time.Date(2030, 6, 3, 22, 3, 39, 0, time.UTC), true, time.Date(2029, 6, 3, 22, 3, 39, 0, time.UTC)},
		{"masked PEM", wrap(info("CertName", "n", "ServerCertificateStatus", "off", "ServerCertificate", "asdadaxxxx", "CertExpireTime", "2030-06-03 22:03:39")),
			"n", "", time.Date(2030, 6, 3, 22, 3, 39, 0, time.UTC), false, time.Time{}},
		{"the entry for the domain", wrap(info("DomainName", "other.test", "CertName", "wrong"), info("DomainName", "WWW.certdrop.test", "CertName", "right")),
			"right", "", time.Time{}, false, time.Time{}},
		{"a single object, not a list", map[string]any{"RequestId": "R1", "CertInfos": map[string]any{"CertInfo": info("CertName", "n")}}, "n", "", time.Time{}, false, time.Time{}},
		{"no certificate", map[string]any{"RequestId": "R1", "CertInfos": map[string]any{}}, "", "", time.Time{}, false, time.Time{}},
		{"no CertInfos at all", map[string]any{"RequestId": "R1"}, "", "", time.Time{}, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCertInfo("www.certdrop.test", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got.CertName != tt.certName || got.Fingerprint != tt.fp || !got.NotAfter.Equal(tt.notAfter) || got.HTTPS != tt.https || got.RequestID != "R1" {
				t.Fatalf("got %+v", got)
			}
			if !tt.notBefore.IsZero() && !got.NotBefore.Equal(tt.notBefore) {
				t.Fatalf("issued %v, want %v", got.NotBefore, tt.notBefore)
			}
		})
	}
	if _, err := ParseCertInfo("x", map[string]any{"CertInfos": "nonsense"}); err == nil {
		t.Fatal("a CertInfos string was accepted")
	}
}

// TestAPIDomain: a domain as the APIs take it, a CDN-style wildcard only
// where asked.
func TestAPIDomain(t *testing.T) {
	tests := []struct {
		in          string
		dotWildcard bool
		want        string
		shouldFail  bool
	}{
		{"WWW.Example.COM.", true, "www.example.com", false},
		{"*.example.com", true, ".example.com", false},
		{".example.com", true, ".example.com", false},
		{"*.example.com", false, "*.example.com", false},
		{"bücher.example", false, "xn--bcher-kva.example", false},
		{"no spaces.com", true, "", true},
	}
	for _, tt := range tests {
		got, err := APIDomain(tt.in, tt.dotWildcard)
		if (err != nil) != tt.shouldFail || got != tt.want {
			t.Errorf("APIDomain(%q, %t) = %q, %v", tt.in, tt.dotWildcard, got, err)
		}
	}
}

// TestSameFingerprint: a product's fingerprint (OSS's, CLB's), SHA-1 or
// SHA-256, with or without colons, in any case.
func TestSameFingerprint(t *testing.T) {
	b := testBundle(t, "fp.example.com")
	raw := b.Leaf.Raw
	s1 := sha1.Sum(raw)
	colon := func(bs []byte) string {
		var parts []string
		for _, x := range bs {
			parts = append(parts, fmt.Sprintf("%02X", x))
		}
		return strings.Join(parts, ":")
	}
	tests := []struct {
		fp   string
		want bool
	}{
		{colon(s1[:]), true},
		{strings.ToLower(strings.ReplaceAll(colon(s1[:]), ":", "")), true},
		{b.Identity().Fingerprint, true},
		{colon(s1[:19]) + ":**", false},
		{"", false},
		{strings.Repeat("0", 40), false},
	}
	for _, tt := range tests {
		if got := SameFingerprint(tt.fp, raw); got != tt.want {
			t.Errorf("SameFingerprint(%q) = %t, want %t", tt.fp, got, tt.want)
		}
	}
}
