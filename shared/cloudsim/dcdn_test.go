package cloudsim

import (
	"context"
	"fmt"
	"testing"
)

func TestDCDNUploadStagingAndDescribe(t *testing.T) {
	cfg := casConfig()
	cfg.Domains.DCDN = append(cfg.Domains.DCDN, Domain{Name: "down.dcdn.example.test", State: StateOffline})
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "dcdn.example.test")

	form := setForm("dcdn.example.test", "certdrop-dcdn", p)
	// The current SetDcdnDomainSSLCertificate reference has no Env: a
	// staging release asked of it is refused, and nothing is installed.
	form["Env"] = "staging"
	_, err := c.call(context.Background(), "SetDcdnDomainSSLCertificate", form)
	if code, _ := codeOf(err); code != "InvalidEnv" {
		t.Errorf("Env=staging on DCDN: %v; want InvalidEnv", err)
	}
	if prod, _ := s.Installed(ProductDCDN, "dcdn.example.test"); prod.CertName != "" {
		t.Errorf("a refused staging Set changed production: %+v", prod)
	}
	if st, ok := s.Staging(ProductDCDN, "dcdn.example.test"); ok {
		t.Errorf("staging %+v", st)
	}
	delete(form, "Env")
	if _, err := c.call(context.Background(), "SetDcdnDomainSSLCertificate", form); err != nil {
		t.Fatal(err)
	}
	body, err := c.call(context.Background(), "DescribeDcdnDomainCertificateInfo", map[string]string{"DomainName": "dcdn.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	info := certInfo(t, body)
	dc, _ := s.Installed(ProductDCDN, "dcdn.example.test")
	want := map[string]string{
		"DomainName": "dcdn.example.test", "CertName": "certdrop-dcdn", "CertType": "upload", "SSLProtocol": "on",
		"SSLPub": p.cert, "Status": "success", "CertId": fmt.Sprint(dc.CertID), "CertRegion": "cn-hangzhou",
		"CertDomainName": "dcdn.example.test",
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("%s = %q, want %q", k, info[k], v)
		}
	}
	if _, ok := info["ServerCertificateStatus"]; ok {
		t.Error("DCDN's Describe has SSLProtocol, not ServerCertificateStatus")
	}
	// The upload is in CAS under its name.
	if got := listCAS(t, c, map[string]string{"OrderType": "UPLOAD", "Keyword": "certdrop-dcdn"}); len(got) != 1 {
		t.Errorf("CAS lists %d", len(got))
	}

	for _, tt := range []struct {
		name string
		form map[string]string
		want string
	}{
		{"offline", setForm("down.dcdn.example.test", "x", p), "InvalidDomain.Offline"},
		{"unknown domain", setForm("nope.dcdn.example.test", "x", p), "InvalidDomain.NotFound"},
		{"a CDN domain is not a DCDN domain", setForm("www.example.test", "x", p), "InvalidDomain.NotFound"},
		{"bad protocol", map[string]string{"DomainName": "dcdn.example.test", "SSLProtocol": "yes"}, "InvalidSSLProtocol.ValueNotSupported"},
		{"missing key", map[string]string{"DomainName": "dcdn.example.test", "SSLProtocol": "on", "SSLPub": p.cert}, "SSLPri.MissingParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.call(context.Background(), "SetDcdnDomainSSLCertificate", tt.form)
			if code, _ := codeOf(err); code != tt.want {
				t.Fatalf("got %q, want %q", code, tt.want)
			}
		})
	}
}

func TestDCDNQuota(t *testing.T) {
	if q := DefaultQuotas(); q["SetDcdnDomainSSLCertificate"] != 30 || q["DescribeDcdnDomainCertificateInfo"] != 100 ||
		q["UploadUserCertificate"] != 100 || q["ListUserCertificateOrder"] != 10 {
		t.Fatalf("default quotas %v", q)
	}
	cfg := casConfig()
	cfg.Quotas = map[string]float64{"SetDcdnDomainSSLCertificate": 2}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	off := map[string]string{"DomainName": "dcdn.example.test", "SSLProtocol": "off"}
	var codes []string
	for range 3 {
		_, err := c.call(context.Background(), "SetDcdnDomainSSLCertificate", off)
		code, _ := codeOf(err)
		codes = append(codes, code)
	}
	if codes[2] != "Throttling.User" {
		t.Errorf("three calls against a quota of 2/s answered %q", codes)
	}
}

func TestCASUploadFaultStoresNothing(t *testing.T) {
	cfg := casConfig()
	cfg.Faults.Scripted = []Script{{Domain: "*", API: "UploadUserCertificate", Code: "Throttling.User", Times: 1}}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test")
	_, err := c.call(context.Background(), "UploadUserCertificate", map[string]string{"Name": "certdrop-x", "Cert": p.cert, "Key": p.key})
	if code, _ := codeOf(err); code != "Throttling.User" {
		t.Fatalf("first upload: %q", code)
	}
	if n := len(s.CASCertificates(CASRegionHangzhou)); n != 0 {
		t.Fatalf("a throttled upload stored %d certificates", n)
	}
	uploadCAS(t, c, "certdrop-x", p)
	if sent, _ := s.Journal().KeysSent(); sent != 2 {
		t.Errorf("keys sent %d, want 2 (the throttled upload carried one too)", sent)
	}
}
