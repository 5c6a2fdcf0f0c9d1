package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/manifest"
)

// TestBuildCAS checks each product's CAS call against its API page: CDN
// and VOD take CertType=cas with CertId and CertRegion; Live and the
// legacy SetDomainServerCertificate take the name only; no CAS call
// carries the certificate or the key, and the uploads are one per region.
func TestBuildCAS(t *testing.T) {
	b := testBundle(t, "example.com", "*.example.com")
	cas := manifest.DeliveryCAS
	m := &manifest.Manifest{Targets: []manifest.Target{
		{Product: CDN, Domain: "www.example.com", Delivery: cas, Staging: true},
		{Product: CDN, Domain: "img.example.com", Delivery: cas, CASRegion: manifest.CASRegionInternational},
		{Product: CDNLegacy, Domain: ".example.com", Delivery: cas},
		{Product: VOD, Domain: "vod.example.com", Region: "cn-shanghai", Delivery: cas, Staging: true},
		{Product: Live, Domain: "pull.example.com", Delivery: cas},
		{Product: Live, Domain: "up.example.com"}, // upload
		{Product: DCDN, Domain: "dcdn.example.com", Delivery: cas},
		{Product: OSS, Domain: "static.example.com", Fields: map[string]string{"bucket": "assets"}, Region: "cn-beijing", Delivery: cas, CASRegion: manifest.CASRegionInternational},
	}}
	p, err := Build(b, m, "", TestProducts)
	if err != nil {
		t.Fatal(err)
	}
	name := p.CASName
	if name != p.CertName {
		t.Errorf("CASName %q differs from CertName %q for a short CN", name, p.CertName)
	}
	want := []string{
		"DomainName=www.example.com CertName=" + name + " CertId= CertType=cas SSLProtocol=on CertRegion=cn-hangzhou",
		"DomainName=img.example.com CertName=" + name + " CertId= CertType=cas SSLProtocol=on CertRegion=ap-southeast-1",
		"DomainName=.example.com ServerCertificateStatus=on CertName=" + name + " CertType=cas",
		"DomainName=vod.example.com CertName=" + name + " CertId= CertType=cas SSLProtocol=on CertRegion=cn-hangzhou Env=staging",
		"", // live: by upload, its reference documents no reference to CAS
		"", // upload
		"DomainName=dcdn.example.com CertName=" + name + " CertId= CertType=cas SSLProtocol=on CertRegion=cn-hangzhou",
		"Bucket=assets Domain=static.example.com CertId= Force=true Certificate=CERT",
	}
	for i, w := range want {
		if w == "" {
			continue
		}
		var got []string
		for _, prm := range p.Calls[i].Params {
			v := prm.Value
			if v == b.CertPEM() {
				v = "CERT" // kept for comparing with ListCname, never sent
			}
			got = append(got, prm.Name+"="+v)
			if prm.Sensitive || strings.Contains(prm.Value, "PRIVATE KEY") {
				t.Errorf("call %d carries %s: a CAS call must not carry the key", i, prm.Name)
			}
		}
		if g := strings.Join(got, " "); g != w {
			t.Errorf("call %d:\n got %s\nwant %s", i, g, w)
		}
	}
	if p.Calls[5].Param("SSLPri") == "" || p.Calls[5].CASRegion != "" {
		t.Errorf("the upload target lost its key or got a CAS region: %+v", p.Calls[5].Params)
	}
	// A live target with delivery: cas is an upload (SSLPub and SSLPri,
	// CertType=upload), and the plan says why.
	if c := p.Calls[4]; c.Param("SSLPri") == "" || c.Param("SSLPub") == "" || c.Param("CertType") != "upload" || c.CASRegion != "" {
		t.Errorf("live with delivery: cas: %v; want an upload", c.Params)
	}
	live, _ := TestProducts.Planner(Live)
	_, noRef := live.Reference(p.Calls[4], name, "")
	var nr *NoReferenceError
	if !errors.As(noRef, &nr) || !strings.HasPrefix(nr.Note, "live targets with delivery: cas are delivered by upload") {
		t.Fatalf("live's Reference: %v; want a NoReferenceError saying why", noRef)
	}
	if len(p.Notes) != 1 || p.Notes[0] != nr.Note {
		t.Errorf("notes %q; want live's note once", p.Notes)
	}
	if _, err := Reference(TestProducts, manifest.Target{Product: Live, Domain: "pull.example.com"}, name, 7); !errors.Is(err, ErrNoReference) {
		t.Errorf("Reference for live: %v; want ErrNoReference", err)
	}
	// The API client scrubs exactly the key from errors: the upload call's
	// secret is its key, a CAS call has none.
	if s := p.Calls[5].Secrets(); len(s) != 1 || s[0] != p.Calls[5].Param("SSLPri") {
		t.Errorf("the upload call's secrets are %d values, want its key", len(s))
	}
	if s := p.Calls[0].Secrets(); len(s) != 0 {
		t.Errorf("a CAS call has %d secrets, want none", len(s))
	}
	ups := p.CASUploads()
	if len(ups) != 2 || ups[0].Region != "cn-hangzhou" || ups[1].Region != "ap-southeast-1" {
		t.Fatalf("uploads = %+v; want cn-hangzhou then ap-southeast-1", ups)
	}
	if got := ups[0].Calls; len(got) != 4 || got[0] != 0 || got[2] != 3 || got[3] != 6 {
		t.Errorf("cn-hangzhou upload serves calls %v; want [0 2 3 6]", got)
	}
	if got := ups[1].Calls; len(got) != 2 || got[1] != 7 {
		t.Errorf("ap-southeast-1 upload serves calls %v; want [1 7]", got)
	}
	if got := p.Calls[7].WithCertID(12).Param("CertId"); got != "12-ap-southeast-1" {
		t.Errorf("oss CertId = %q; want 12-ap-southeast-1", got)
	}
	if ups[0].Keyword != "example.com" {
		t.Errorf("upload keyword = %q; want the domain example.com (ListUserCertificateOrder matches domains, not names)", ups[0].Keyword)
	}
	if ups[0].Key.Reveal() != b.KeyPEM().Reveal() || ups[0].Fingerprint != b.Identity().Fingerprint {
		t.Error("the upload does not carry the bundle's key and fingerprint")
	}
	bound := p.Calls[1].WithCertID(4711)
	if bound.Param("CertId") != "4711" || p.Calls[1].Param("CertId") != "" {
		t.Errorf("WithCertID: bound %q, original %q; want 4711 and the original untouched", bound.Param("CertId"), p.Calls[1].Param("CertId"))
	}
}

// TestCASCertName: CAS takes names of at most 64 characters; a long CN is
// shortened there while the fingerprint and date stay.
func TestCASCertName(t *testing.T) {
	long := strings.Repeat("a", 50) + ".example.com"
	b := testBundle(t, long)
	id := b.Identity()
	n := CASCertName(id)
	if len(n) > 64 || !strings.HasPrefix(n, "certdrop-") || !strings.HasSuffix(n, id.Fingerprint[:8]) {
		t.Errorf("CASCertName = %q (%d chars); want certdrop-…-<fp8> within 64", n, len(n))
	}
	if len(CertName(id)) <= 64 {
		t.Errorf("CertName = %q should keep the long CN", CertName(id))
	}
}
