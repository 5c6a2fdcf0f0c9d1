package bundle_test

import (
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

func TestCovers(t *testing.T) {
	p := fixture(t)
	cert := func(cn string, dns ...string) *testpki.Cert {
		return issue(t, testpki.Spec{CN: cn, DNS: dns}, p.inter1)
	}
	plain := cert("example.com", "example.com", "www.example.com")
	wild := cert("*.example.com", "*.example.com", "example.com")
	idn := cert("xn--bcher-kva.example", "xn--bcher-kva.example", "*.xn--bcher-kva.example")
	cnOnly := cert("cn.example.com")
	cnWild := cert("*.cn.example.com")
	cnIgnored := cert("ignored.example.com", "san.example.com")
	mixedCase := cert("Example.COM", "WWW.Example.COM")

	tests := []struct {
		name   string
		cert   *testpki.Cert
		domain string
		want   bool
	}{
		{"exact SAN", plain, "example.com", true},
		{"second SAN", plain, "www.example.com", true},
		{"upper-case domain", plain, "WWW.EXAMPLE.COM", true},
		{"upper-case SAN", mixedCase, "www.example.com", true},
		{"trailing dot", plain, "www.example.com.", true},
		{"surrounding space", plain, "  example.com ", true},
		{"other name", plain, "api.example.com", false},
		{"parent of a SAN", plain, "com", false},
		{"suffix is not a match", plain, "notexample.com", false},
		{"wildcard covers one label", wild, "a.example.com", true},
		{"wildcard covers www", wild, "www.example.com", true},
		{"wildcard does not cover two labels", wild, "a.b.example.com", false},
		{"wildcard does not cover the bare domain by itself", cert("*.example.com", "*.example.com"), "example.com", false},
		{"bare domain covered by its own SAN", wild, "example.com", true},
		{"wildcard does not cover another domain", wild, "a.example.org", false},
		{"CDN wildcard domain written *.", wild, "*.example.com", true},
		{"CDN wildcard domain written .", wild, ".example.com", true},
		{"CDN wildcard domain needs a wildcard SAN", plain, "*.example.com", false},
		{"CDN wildcard domain, dot form, needs a wildcard SAN", plain, ".example.com", false},
		{"CDN wildcard of a sub-domain is not covered", wild, "*.a.example.com", false},
		{"IDN domain against punycode SAN", idn, "bücher.example", true},
		{"IDN domain upper case", idn, "BÜCHER.example", true},
		{"punycode domain against punycode SAN", idn, "xn--bcher-kva.example", true},
		{"IDN under a punycode wildcard", idn, "www.bücher.example", true},
		{"IDN CDN wildcard", idn, ".bücher.example", true},
		{"other IDN", idn, "bucher.example", false},
		// Browsers and Go ignore the CN, so a certificate
		// without DNS SANs covers nothing, not its CN.
		{"CN ignored when there are no SANs", cnOnly, "cn.example.com", false},
		{"CN wildcard ignored when there are no SANs", cnWild, "a.cn.example.com", false},
		{"CN ignored when there are SANs", cnIgnored, "ignored.example.com", false},
		{"SAN used beside an ignored CN", cnIgnored, "san.example.com", true},
		{"empty domain", plain, "", false},
		{"invalid domain", plain, "exa mple.com", false},
		{"empty label", plain, "www..example.com", false},
		{"IP address", cert("ip", "10.0.0.1"), "10.0.0.1", false},
		{"a SAN in CDN dot form is no wildcard", cert("dot", ".example.com"), "*.example.com", false},
		{"a SAN in CDN dot form covers nothing below", cert("dot", ".example.com"), "a.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bundle.Covers(tt.cert.Cert, tt.domain); got != tt.want {
				t.Errorf("Covers(%v, %q) = %v, want %v", tt.cert.Cert.DNSNames, tt.domain, got, tt.want)
			}
		})
	}
	t.Run("Bundle.Covers uses the leaf", func(t *testing.T) {
		b, err := bundle.Parse(one("b.pem", wild.PEM(), keyPEM(t, wild.Key, testpki.PKCS8)), p.opts())
		if err != nil {
			t.Fatal(err)
		}
		if !b.Covers(".example.com") || b.Covers("example.org") {
			t.Error("Bundle.Covers disagrees with the leaf's SANs")
		}
	})
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "Example.COM", want: "example.com"},
		{in: " www.example.com. ", want: "www.example.com"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "XN--BCHER-KVA.example", want: "xn--bcher-kva.example"},
		{in: "*.example.com", want: "*.example.com"},
		{in: ".example.com", want: "*.example.com"},
		{in: ".Bücher.Example", want: "*.xn--bcher-kva.example"},
		{in: "", err: true},
		{in: ".", err: true},
		{in: "*.", err: true},
		{in: "localhost", err: true},
		{in: "*.com", err: true},
		{in: "a..example.com", err: true},
		{in: "*.*.example.com", err: true},
		{in: "foo*.example.com", err: true},
		{in: "www.example.com/path", err: true},
		{in: "example.com:443", err: true},
		{in: "under_score.example.com", err: true},
		{in: "192.168.0.1", err: true},
		{in: "a-.example.com", err: true},
		{in: strings.Repeat("a", 64) + ".example.com", err: true},
		{in: strings.Repeat("a", 63) + ".example.com", want: strings.Repeat("a", 63) + ".example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := bundle.NormalizeDomain(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}
