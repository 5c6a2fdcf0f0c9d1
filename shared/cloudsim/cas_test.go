package cloudsim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// casConfig is testConfig with a DCDN domain and wildcard names to set by
// reference.
func casConfig() Config {
	cfg := testConfig()
	cfg.Domains.DCDN = []Domain{{Name: "dcdn.example.test"}, {Name: ".dcdn.example.test"}}
	return cfg
}

// uploadCAS uploads p under name through the real SDK and returns its ID.
func uploadCAS(t *testing.T, c *sdk, name string, p testPair) int64 {
	t.Helper()
	body, err := c.call(context.Background(), "UploadUserCertificate", map[string]string{"Name": name, "Cert": p.cert, "Key": p.key})
	if err != nil {
		code, _ := codeOf(err)
		t.Fatalf("UploadUserCertificate %s: %s", name, code)
	}
	id := num(body["CertId"])
	if id <= 0 {
		t.Fatalf("UploadUserCertificate answered CertId %v", body["CertId"])
	}
	return id
}

// num reads a JSON number the SDK decoded (json.Number), or -1.
func num(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err == nil {
			return i
		}
	case float64:
		return int64(n)
	}
	return -1
}

// listCAS lists with the given parameters and returns the items.
func listCAS(t *testing.T, c *sdk, form map[string]string) []map[string]any {
	t.Helper()
	body, err := c.call(context.Background(), "ListUserCertificateOrder", form)
	if err != nil {
		code, _ := codeOf(err)
		t.Fatalf("ListUserCertificateOrder: %s", code)
	}
	raw, _ := body["CertificateOrderList"].([]any)
	var out []map[string]any
	for _, r := range raw {
		out = append(out, r.(map[string]any))
	}
	return out
}

func TestCASUploadListGetDelete(t *testing.T) {
	s := startSim(t, casConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test", "img.example.test")
	id := uploadCAS(t, c, "certdrop-www-1", p)

	items := listCAS(t, c, map[string]string{"OrderType": "UPLOAD", "Keyword": "certdrop-www"})
	if len(items) != 1 {
		t.Fatalf("listed %d certificates, want 1", len(items))
	}
	it := items[0]
	leaf, _ := firstCertificate(p.cert)
	if num(it["CertificateId"]) != id || it["Name"] != "certdrop-www-1" ||
		it["Sans"] != "www.example.test,img.example.test" || it["Status"] != "ISSUED" || it["Expired"] != false ||
		strings.ToLower(it["Sha2"].(string)) != bundle.Fingerprint(leaf) || len(it["Fingerprint"].(string)) != 40 ||
		it["SerialNo"] != leaf.SerialNumber.Text(16) || it["EndDate"] != leaf.NotAfter.UTC().Format("2006-01-02") {
		t.Errorf("list item %v", it)
	}
	if got := listCAS(t, c, map[string]string{"Keyword": "certdrop-www"}); len(got) != 0 {
		t.Errorf("default OrderType CPACK listed %d certificates, want none (orders only)", len(got))
	}
	if got := listCAS(t, c, map[string]string{"OrderType": "UPLOAD", "Keyword": "nothing-like-it"}); len(got) != 0 {
		t.Errorf("unmatched keyword listed %d", len(got))
	}

	// CertFilter=true leaves the certificate and key out.
	d, err := c.call(context.Background(), "GetUserCertificateDetail", map[string]string{"CertId": fmt.Sprint(id), "CertFilter": "true"})
	if err != nil || d["Key"] != nil || d["Cert"] != nil || d["Name"] != "certdrop-www-1" {
		t.Fatalf("filtered detail: err %v, has key %v, has cert %v", err, d["Key"] != nil, d["Cert"] != nil)
	}
	d, err = c.call(context.Background(), "GetUserCertificateDetail", map[string]string{"CertId": fmt.Sprint(id)})
	if err != nil || d["Key"] != p.key || d["Cert"] != p.cert {
		t.Fatalf("unfiltered detail: err %v, key returned %v, cert returned %v", err, d["Key"] == p.key, d["Cert"] == p.cert)
	}
	sent, returned := s.Journal().KeysSent()
	if sent != 1 || returned != 1 {
		t.Errorf("journal counts %d keys sent, %d returned; want 1 and 1", sent, returned)
	}

	if _, err := c.call(context.Background(), "DeleteUserCertificate", map[string]string{"CertId": fmt.Sprint(id)}); err != nil {
		t.Fatal(err)
	}
	if got := listCAS(t, c, map[string]string{"OrderType": "UPLOAD"}); len(got) != 0 {
		t.Errorf("after delete, listed %d", len(got))
	}
	_, err = c.call(context.Background(), "GetUserCertificateDetail", map[string]string{"CertId": fmt.Sprint(id)})
	if code, _ := codeOf(err); code != "NotFound" {
		t.Errorf("detail of deleted: %s, want NotFound", code)
	}
	// The name is free again.
	uploadCAS(t, c, "certdrop-www-1", p)

	for _, e := range s.Journal().Entries() {
		if e.Service != ProductCAS || e.Region != CASRegionHangzhou {
			t.Errorf("entry %s service %q region %q", e.API, e.Service, e.Region)
		}
	}
}

func TestCASUploadValidation(t *testing.T) {
	s := startSim(t, casConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test")
	other := validPair(t, "www.example.test")
	expired := issuePair(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), "www.example.test")
	uploadCAS(t, c, "taken", p)
	tests := []struct {
		name string
		form map[string]string
		want string
	}{
		{"duplicate name, other content", map[string]string{"Name": "taken", "Cert": other.cert, "Key": other.key}, "CertNameAlreadyExists"},
		{"duplicate name, same content", map[string]string{"Name": "taken", "Cert": p.cert, "Key": p.key}, "CertNameAlreadyExists"},
		{"key of another certificate", map[string]string{"Name": "mismatch", "Cert": p.cert, "Key": other.key}, "Certificate.MissMatch"},
		{"no name", map[string]string{"Cert": p.cert, "Key": p.key}, "MissingName"},
		{"name too long", map[string]string{"Name": strings.Repeat("n", 65), "Cert": p.cert, "Key": p.key}, "InvalidParameter"},
		{"no key", map[string]string{"Name": "nokey", "Cert": p.cert}, "MissingKey"},
		{"no cert", map[string]string{"Name": "nocert", "Key": p.key}, "MissingCert"},
		{"key in Cert", map[string]string{"Name": "swapped", "Cert": p.key, "Key": p.cert}, "Certificate.FormatError"},
		{"garbage key", map[string]string{"Name": "garbage", "Cert": p.cert, "Key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "Key.Malformed"},
		{"expired", map[string]string{"Name": "old", "Cert": expired.cert, "Key": expired.key}, "Certificate.Expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.call(context.Background(), "UploadUserCertificate", tt.form)
			if code, _ := codeOf(err); code != tt.want {
				t.Fatalf("got %q, want %q", code, tt.want)
			}
		})
	}
	if n := len(s.CASCertificates(CASRegionHangzhou)); n != 1 {
		t.Errorf("store holds %d certificates after refused uploads, want 1", n)
	}
	// Every upload carried a key but the one without.
	if sent, _ := s.Journal().KeysSent(); sent != len(tests) {
		t.Errorf("keys sent %d, want %d", sent, len(tests))
	}
	for _, e := range s.Journal().Entries() {
		if strings.Contains(fmt.Sprintf("%+v", e), keyBody(p)) {
			t.Fatal("a journal entry holds the private key")
		}
	}
}

func TestCASRegionsAreSeparate(t *testing.T) {
	s := startSim(t, casConfig())
	ep := s.Endpoints()
	if ep.CASIntl == "" || ep.CASIntl == ep.OpenAPI {
		t.Fatalf("CASIntl endpoint %q", ep.CASIntl)
	}
	cn := newSDK(t, ep.OpenAPI, "simAK", "simSK", "")
	intl := newSDK(t, ep.CASIntl, "simAK", "simSK", "")
	p := validPair(t, "www.example.test")
	idIntl := uploadCAS(t, intl, "same-name", p)
	idCN := uploadCAS(t, cn, "same-name", p) // a name is unique per region
	if idIntl == idCN {
		t.Fatalf("both regions answered CertId %d", idCN)
	}
	if got := listCAS(t, intl, map[string]string{"OrderType": "UPLOAD"}); len(got) != 1 || num(got[0]["CertificateId"]) != idIntl {
		t.Errorf("intl list %v", got)
	}
	_, err := cn.call(context.Background(), "GetUserCertificateDetail", map[string]string{"CertId": fmt.Sprint(idIntl), "CertFilter": "true"})
	if code, _ := codeOf(err); code != "NotFound" {
		t.Errorf("cn-hangzhou detail of the ap-southeast-1 certificate: %q, want NotFound", code)
	}
	_, err = intl.call(context.Background(), "DescribeDomainCertificateInfo", map[string]string{"DomainName": "www.example.test"})
	if code, _ := codeOf(err); code != "InvalidAction.NotFound" {
		t.Errorf("CDN action on the CAS ap-southeast-1 endpoint: %q", code)
	}
	// The CDN sets the ap-southeast-1 certificate by CertRegion.
	_, err = cn.call(context.Background(), "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test",
		"CertType": "cas", "CertId": fmt.Sprint(idIntl), "CertRegion": "ap-southeast-1", "SSLProtocol": "on"})
	if err != nil {
		code, _ := codeOf(err)
		t.Fatal(code)
	}
	if dc, _ := s.Installed(ProductCDN, "www.example.test"); dc.CertID != idIntl || dc.CertRegion != "ap-southeast-1" || dc.CertType != "cas" {
		t.Errorf("installed %+v", dc)
	}
	_, err = cn.call(context.Background(), "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test",
		"CertType": "cas", "CertId": fmt.Sprint(idIntl), "SSLProtocol": "on"})
	if code, _ := codeOf(err); code != "Certificate.NotFind" {
		t.Errorf("the ap-southeast-1 certificate looked up in the default cn-hangzhou: %q", code)
	}
}

func TestSetByReferenceEveryProduct(t *testing.T) {
	s := startSim(t, casConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "*.example.test", "vod.example.test", "live.example.test", "*.dcdn.example.test", "dcdn.example.test")
	id := uploadCAS(t, c, "certdrop-ref", p)
	sid := fmt.Sprint(id)
	tests := []struct {
		product, action, domain string
		form                    map[string]string
	}{
		{ProductCDN, "SetCdnDomainSSLCertificate", "www.example.test", map[string]string{"CertId": sid, "CertRegion": "cn-hangzhou", "SSLProtocol": "on"}},
		{ProductCDN, "SetCdnDomainSSLCertificate", ".example.test", map[string]string{"CertId": sid, "SSLProtocol": "on"}},
		{ProductCDN, "SetDomainServerCertificate", "www.example.test", map[string]string{"CertName": "certdrop-ref", "ServerCertificateStatus": "on"}},
		{ProductVOD, "SetVodDomainSSLCertificate", "vod.example.test", map[string]string{"CertId": sid, "CertRegion": "cn-hangzhou", "SSLProtocol": "on"}},
		{ProductVOD, "SetVodDomainSSLCertificate", "vod.example.test", map[string]string{"CertName": "certdrop-ref", "SSLProtocol": "on"}},
		{ProductDCDN, "SetDcdnDomainSSLCertificate", "dcdn.example.test", map[string]string{"CertId": sid, "SSLProtocol": "on"}},
		{ProductDCDN, "SetDcdnDomainSSLCertificate", ".dcdn.example.test", map[string]string{"CertId": sid, "CertRegion": "cn-hangzhou", "SSLProtocol": "on"}},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.domain, func(t *testing.T) {
			form := map[string]string{"DomainName": tt.domain, "CertType": "cas"}
			for k, v := range tt.form {
				form[k] = v
			}
			if _, err := c.call(context.Background(), tt.action, form); err != nil {
				code, _ := codeOf(err)
				t.Fatal(code)
			}
			dc, _ := s.Installed(tt.product, tt.domain)
			if dc.CertID != id || dc.CertName != "certdrop-ref" || dc.CertType != "cas" || !dc.HTTPS || dc.CertPEM != p.cert {
				t.Errorf("installed %+v", dc)
			}
		})
	}
	if got := s.CarriedBy(CASRegionHangzhou, id); len(got) != 5 {
		t.Errorf("CarriedBy lists %v, want the 5 domains set", got)
	}
	if got := s.CarriedBy(CASRegionSingapore, id); len(got) != 0 {
		t.Errorf("CarriedBy in the other region lists %v", got)
	}
	// Describe shows the certificate, with CertId where the real one does.
	body, err := c.call(context.Background(), "DescribeDomainCertificateInfo", map[string]string{"DomainName": "www.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if info := certInfo(t, body); info["CertId"] != sid || info["CertType"] != "cas" || info["CertName"] != "certdrop-ref" {
		t.Errorf("CDN describe %v", info)
	}
	// One key crossed the wire: the upload.
	if sent, returned := s.Journal().KeysSent(); sent != 1 || returned != 0 {
		t.Errorf("keys sent %d, returned %d; want 1 and 0", sent, returned)
	}
}

func TestSetByReferenceRefusals(t *testing.T) {
	clock := time.Now()
	cfg := casConfig()
	cfg.CertificateClock = func() time.Time { return clock }
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test")
	id := uploadCAS(t, c, "only-www", p)
	gone := uploadCAS(t, c, "gone", p)
	if _, err := c.call(context.Background(), "DeleteUserCertificate", map[string]string{"CertId": fmt.Sprint(gone)}); err != nil {
		t.Fatal(err)
	}
	sid := fmt.Sprint(id)
	tests := []struct {
		name, action string
		form         map[string]string
		want         string
		future       bool
	}{
		{"cdn without CertId", "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test", "CertName": "only-www"}, "SetDomainCertificate.ParameterError", false},
		{"cdn unknown id", "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test", "CertId": "999"}, "Certificate.NotFind", false},
		{"cdn deleted", "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test", "CertId": fmt.Sprint(gone)}, "Certificate.NotFind", false},
		{"cdn bad region", "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test", "CertId": sid, "CertRegion": "us-west-1"}, "Abs.CertRegion.ValueNotSupported", false},
		{"cdn domain not covered", "SetCdnDomainSSLCertificate", map[string]string{"DomainName": ".example.test", "CertId": sid}, "SetDomainCertificate.ParameterError", false},
		{"cdn expired", "SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test", "CertId": sid}, "Certificate.Expired", true},
		// SetLiveDomainCertificate documents no reference: SSLProtocol=on
		// requires SSLPub and SSLPri, whatever CertType says.
		{"live by name", "SetLiveDomainCertificate", map[string]string{"DomainName": "live.example.test", "CertName": "only-www"}, "SSLPub.MissingParameter", false},
		{"live without name", "SetLiveDomainCertificate", map[string]string{"DomainName": "live.example.test"}, "SSLPub.MissingParameter", false},
		{"live without key", "SetLiveDomainCertificate", map[string]string{"DomainName": "live.example.test", "CertName": "only-www", "SSLPub": p.cert}, "SSLPri.MissingParameter", false},
		{"legacy unknown name", "SetDomainServerCertificate", map[string]string{"DomainName": "www.example.test", "CertName": "nope"}, "Certificate.NotFind", false},
		{"vod id and name disagree", "SetVodDomainSSLCertificate", map[string]string{"DomainName": "vod.example.test", "CertId": sid, "CertName": "other"}, "SetDomainCertificate.ParameterError", false},
		{"dcdn without CertId", "SetDcdnDomainSSLCertificate", map[string]string{"DomainName": "dcdn.example.test", "CertName": "only-www"}, "SetDomainCertificate.ParameterError", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = time.Now()
			if tt.future {
				clock = p.notAfter.Add(time.Hour)
			}
			form := map[string]string{"CertType": "cas"}
			if tt.action == "SetDomainServerCertificate" {
				form["ServerCertificateStatus"] = "on"
			} else {
				form["SSLProtocol"] = "on"
			}
			for k, v := range tt.form {
				form[k] = v
			}
			_, err := c.call(context.Background(), tt.action, form)
			if code, _ := codeOf(err); code != tt.want {
				t.Fatalf("got %q, want %q", code, tt.want)
			}
		})
	}
	if dc, _ := s.Installed(ProductCDN, "www.example.test"); dc.CertName != "" {
		t.Errorf("a refused Set installed %+v", dc)
	}
}

func TestProductUploadLandsInCAS(t *testing.T) {
	s := startSim(t, casConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test")
	if _, err := c.call(context.Background(), "SetCdnDomainSSLCertificate", setForm("www.example.test", "certdrop-upload", p)); err != nil {
		t.Fatal(err)
	}
	items := listCAS(t, c, map[string]string{"OrderType": "UPLOAD", "Keyword": "certdrop-"})
	dc, _ := s.Installed(ProductCDN, "www.example.test")
	if len(items) != 1 || items[0]["Name"] != "certdrop-upload" || num(items[0]["CertificateId"]) != dc.CertID {
		t.Fatalf("CAS lists %v; the domain carries CertId %d", items, dc.CertID)
	}
	// The name is taken for CAS uploads, and a product upload of other
	// content under a CAS name is Certificate.Duplicated.
	_, err := c.call(context.Background(), "UploadUserCertificate", map[string]string{"Name": "certdrop-upload", "Cert": p.cert, "Key": p.key})
	if code, _ := codeOf(err); code != "CertNameAlreadyExists" {
		t.Errorf("CAS upload under a product's name: %q", code)
	}
	uploadCAS(t, c, "cas-first", p)
	other := validPair(t, "www.example.test")
	_, err = c.call(context.Background(), "SetCdnDomainSSLCertificate", setForm("www.example.test", "cas-first", other))
	if code, _ := codeOf(err); code != "Certificate.Duplicated" {
		t.Errorf("product upload of other content under a CAS name: %q", code)
	}
}

func TestCASListStatusAndPaging(t *testing.T) {
	clock := time.Now()
	cfg := casConfig()
	cfg.CertificateClock = func() time.Time { return clock }
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	short := issuePair(t, time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour), "www.example.test")
	long := validPair(t, "www.example.test")
	uploadCAS(t, c, "short", short)
	for i := range 5 {
		uploadCAS(t, c, fmt.Sprintf("long-%d", i), long)
	}
	if got := listCAS(t, c, map[string]string{"OrderType": "UPLOAD", "Status": "WILLEXPIRED"}); len(got) != 1 || got[0]["Name"] != "short" {
		t.Errorf("WILLEXPIRED %v", got)
	}
	clock = short.notAfter.Add(time.Hour)
	if got := listCAS(t, c, map[string]string{"OrderType": "UPLOAD"}); len(got) != 5 {
		t.Errorf("default status lists %d, want the 5 valid (expired ones only with Status=EXPIRED)", len(got))
	}
	if got := listCAS(t, c, map[string]string{"OrderType": "UPLOAD", "Status": "EXPIRED"}); len(got) != 1 || got[0]["Expired"] != true {
		t.Errorf("EXPIRED %v", got)
	}
	seen := map[string]bool{}
	for page := 1; page <= 3; page++ {
		body, err := c.call(context.Background(), "ListUserCertificateOrder", map[string]string{"OrderType": "UPLOAD", "ShowSize": "2", "CurrentPage": fmt.Sprint(page)})
		if err != nil {
			t.Fatal(err)
		}
		if num(body["TotalCount"]) != 5 {
			t.Fatalf("TotalCount %v", body["TotalCount"])
		}
		for _, it := range body["CertificateOrderList"].([]any) {
			seen[it.(map[string]any)["Name"].(string)] = true
		}
	}
	if len(seen) != 5 {
		t.Errorf("three pages of 2 listed %d distinct certificates, want 5", len(seen))
	}
}
