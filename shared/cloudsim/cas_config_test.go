package cloudsim

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigCASAndDCDN(t *testing.T) {
	dir := t.TempDir()
	p := validPair(t, "edge.example.test")
	if err := os.WriteFile(filepath.Join(dir, "old.pem"), []byte(p.cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old.key"), []byte(p.key), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `credentials: [{accessKeyId: simAK, accessKeySecret: simSK}]
domains:
  dcdn: [{name: edge.example.test}, {name: .example.test}]
cas:
  maxCertificates: 2
  certificates:
    - {name: certdrop-old, certFile: old.pem, keyFile: old.key}
    - {name: certdrop-old, region: ap-southeast-1, certFile: old.pem}
oss: {disabled: true}
`
	path := filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, cfg)
	cn := s.CASCertificates(CASRegionHangzhou)
	intl := s.CASCertificates(CASRegionSingapore)
	if len(cn) != 1 || !cn[0].HasKey || len(intl) != 1 || intl[0].HasKey || cn[0].ID == intl[0].ID {
		t.Fatalf("seeded cn %+v intl %+v", cn, intl)
	}
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	// The seeded certificate is set by reference on a DCDN domain.
	_, err = c.call(context.Background(), "SetDcdnDomainSSLCertificate", map[string]string{"DomainName": "edge.example.test",
		"CertType": "cas", "CertId": fmt.Sprint(cn[0].ID), "SSLProtocol": "on"})
	if err != nil {
		code, _ := codeOf(err)
		t.Fatal(code)
	}
	// maxCertificates: the second upload in cn-hangzhou is the cap.
	other := validPair(t, "edge.example.test")
	uploadCAS(t, c, "second", other)
	_, err = c.call(context.Background(), "UploadUserCertificate", map[string]string{"Name": "third", "Cert": other.cert, "Key": other.key})
	if code, _ := codeOf(err); code != "QuotaExceeded.Certificate" {
		t.Errorf("upload past maxCertificates: %q", code)
	}
}

func TestLoadConfigRejectsCASMistakes(t *testing.T) {
	p := validPair(t, "a.example.test")
	cert := strings.ReplaceAll(p.cert, "\n", "\\n")
	for _, tt := range []struct{ name, yaml, want string }{
		{"region", fmt.Sprintf(`cas: {certificates: [{name: a, region: us-east-1, cert: "%s"}]}`, cert), "region must be"},
		{"no name", fmt.Sprintf(`cas: {certificates: [{cert: "%s"}]}`, cert), "name is required"},
		{"no cert", `cas: {certificates: [{name: a}]}`, "no parsable certificate"},
		{"duplicate", fmt.Sprintf(`cas: {certificates: [{name: a, cert: "%s"}, {name: a, region: cn-hangzhou, cert: "%s"}]}`, cert, cert), "duplicate name"},
		{"negative cap", `cas: {maxCertificates: -1}`, "maxCertificates"},
		{"dcdn wildcard", `domains: {dcdn: [{name: '*.example.com'}]}`, `names a wildcard domain ".example.com"`},
		{"intl addr", `casIntlAddr: 0.0.0.0:0`, "not a loopback address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// FuzzPutCname feeds arbitrary PutCname bodies to the OSS emulator: each
// is answered 200 or an OSS error, never a panic, and the journal never
// holds the body.
func FuzzPutCname(f *testing.F) {
	now := time.Now()
	f.Add([]byte(`<BucketCnameConfiguration><Cname><Domain>a.example.test</Domain></Cname></BucketCnameConfiguration>`))
	f.Add([]byte(`<BucketCnameConfiguration><Cname><Domain>a.example.test</Domain><CertificateConfiguration><CertId>1-cn-hangzhou</CertId><Force>true</Force></CertificateConfiguration></Cname></BucketCnameConfiguration>`))
	f.Add([]byte(`<BucketCnameConfiguration><Cname><Domain>a</Domain><CertificateConfiguration><Certificate>-----BEGIN CERTIFICATE-----</Certificate><PrivateKey>x</PrivateKey></CertificateConfiguration></Cname></BucketCnameConfiguration>`))
	f.Add([]byte(`<x`))
	o, err := NewOSS(OSSConfig{Buckets: []string{"site"}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/site/?cname&comp=add", strings.NewReader(string(body)))
		cr := peekCname(r)
		w := httptest.NewRecorder()
		if e := o.putCname(w, "site", cr); e != nil {
			if e.status < 400 || e.code == "" {
				t.Fatalf("error %+v", e)
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	})
}
