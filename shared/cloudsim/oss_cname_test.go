package cloudsim

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// ossClient is the real OSS SDK, V4-signing, pointed at the emulator.
func ossClient(t *testing.T, s *Sim, secret string) *oss.Client {
	t.Helper()
	c, err := oss.New(s.Endpoints().OSS, "simAK", secret, oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ossCode returns the OSS error code and status of err ("" and 200 for nil).
func ossCode(err error) (string, int) {
	var se oss.ServiceError
	switch {
	case err == nil:
		return "", 200
	case errors.As(err, &se):
		return se.Code, se.StatusCode
	}
	return "network: " + err.Error(), 0
}

func TestOSSCnameWithCertificate(t *testing.T) {
	cfg := casConfig()
	cfg.OSS = OSSSettings{Buckets: []string{"site", "other"}}
	s := startSim(t, cfg)
	c := ossClient(t, s, "simSK")
	p := validPair(t, "static.example.test", "img.example.test")
	const domain = "static.example.test"

	// Certificate and key.
	err := c.PutBucketCnameWithCertificate("site", oss.PutBucketCname{Cname: domain,
		CertificateConfiguration: &oss.CertificateConfiguration{Certificate: p.cert, PrivateKey: p.key}})
	if code, _ := ossCode(err); code != "" {
		t.Fatalf("PutCname with certificate: %s", code)
	}
	list, err := c.ListBucketCname("site")
	if err != nil || len(list.Cname) != 1 {
		t.Fatalf("ListCname: %v %+v", err, list)
	}
	leaf, _ := firstCertificate(p.cert)
	sum := sha1.Sum(leaf.Raw)
	fp := strings.ToUpper(hex.EncodeToString(sum[:]))
	got := list.Cname[0]
	if got.Domain != domain || got.Certificate.Type != "Upload" || strings.ReplaceAll(got.Certificate.Fingerprint, ":", "") != fp ||
		got.Certificate.ValidEndDate != leaf.NotAfter.UTC().Format("Mon, 2 Jan 2006 15:04:05 GMT") || !strings.HasSuffix(got.Certificate.CertId, "-cn-hangzhou") {
		t.Errorf("ListCname %+v", got)
	}
	uploadID := got.Certificate.CertId

	// By CAS id, from the ap-southeast-1 store.
	intl := newSDK(t, s.Endpoints().CASIntl, "simAK", "simSK", "")
	id := uploadCAS(t, intl, "certdrop-static", p)
	casID := fmt.Sprintf("%d-ap-southeast-1", id)
	byID := func(cc oss.CertificateConfiguration) error {
		return c.PutBucketCnameWithCertificate("site", oss.PutBucketCname{Cname: domain, CertificateConfiguration: &cc})
	}
	tests := []struct {
		name string
		cc   oss.CertificateConfiguration
		want string
	}{
		{"replace without Force nor PreviousCertId", oss.CertificateConfiguration{CertId: casID}, "InvalidArgument"},
		{"wrong PreviousCertId", oss.CertificateConfiguration{CertId: casID, PreviousCertId: "1-cn-hangzhou", Force: true}, "InvalidArgument"},
		{"unknown CAS id", oss.CertificateConfiguration{CertId: "999-ap-southeast-1", Force: true}, "InvalidArgument"},
		{"CAS id in the wrong region", oss.CertificateConfiguration{CertId: fmt.Sprintf("%d-cn-hangzhou", id), Force: true}, "InvalidArgument"},
		{"CertId without region", oss.CertificateConfiguration{CertId: fmt.Sprint(id), Force: true}, "InvalidArgument"},
		{"id and certificate", oss.CertificateConfiguration{CertId: casID, Certificate: p.cert, PrivateKey: p.key, Force: true}, "InvalidArgument"},
		{"by CAS id with PreviousCertId", oss.CertificateConfiguration{CertId: casID, PreviousCertId: uploadID}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := ossCode(byID(tt.cc)); code != tt.want {
				t.Fatalf("got %q, want %q", code, tt.want)
			}
		})
	}
	cn := s.OSS().Cnames("site")[domain]
	if cn == nil || cn.Type != "CAS" || cn.CertID != casID {
		t.Fatalf("domain carries %+v", cn)
	}
	if got := s.CarriedBy(CASRegionSingapore, id); len(got) != 1 || got[0] != "oss/site/"+domain {
		t.Errorf("CarriedBy %v", got)
	}
	list, _ = c.ListBucketCname("site")
	if list.Cname[0].Certificate.CertId != casID || list.Cname[0].Certificate.Type != "CAS" {
		t.Errorf("ListCname after CAS %+v", list.Cname[0].Certificate)
	}

	// The certificate must cover the domain; the domain belongs to one bucket.
	err = c.PutBucketCnameWithCertificate("site", oss.PutBucketCname{Cname: "www.example.test",
		CertificateConfiguration: &oss.CertificateConfiguration{CertId: casID}})
	if code, _ := ossCode(err); code != "InvalidArgument" {
		t.Errorf("uncovered domain: %q", code)
	}
	if code, status := ossCode(c.PutBucketCname("other", domain)); code != "CnameAlreadyExists" || status != 409 {
		t.Errorf("domain of another bucket: %q %d", code, status)
	}
	// A key sent with a bad signature still crossed the wire.
	bad := ossClient(t, s, "wrong-secret")
	err = bad.PutBucketCnameWithCertificate("site", oss.PutBucketCname{Cname: domain,
		CertificateConfiguration: &oss.CertificateConfiguration{Certificate: p.cert, PrivateKey: p.key, Force: true}})
	if code, _ := ossCode(err); code != "SignatureDoesNotMatch" {
		t.Errorf("bad signature: %q", code)
	}
	if cn := s.OSS().Cnames("site")[domain]; cn.CertID != casID {
		t.Errorf("a refused PutCname changed the domain: %+v", cn)
	}
	keys := 0
	for _, e := range s.Journal().Entries() {
		if e.Service == "oss" && e.KeySent {
			keys++
		}
		if strings.Contains(fmt.Sprintf("%+v", e), keyBody(p)) {
			t.Fatal("a journal entry holds the private key")
		}
	}
	if keys != 3 {
		t.Errorf("OSS entries with a key: %d, want 3 (the upload, the refused id-and-certificate, the bad signature)", keys)
	}
	if err := c.DeleteBucketCname("site", domain); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.ListBucketCname("site"); len(list.Cname) != 0 {
		t.Errorf("after DeleteCname: %+v", list.Cname)
	}
}
