package cloudsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
)

func TestSignatureVerifiedAgainstCredentials(t *testing.T) {
	s := startSim(t, testConfig())
	ep := s.Endpoints().OpenAPI
	describe := map[string]string{"DomainName": "www.example.test"}
	tests := []struct {
		name              string
		id, secret, token string
		action            string
		wantCode          string
		wantStatus        int
	}{
		{"good key", "simAK", "simSK", "", "DescribeDomainCertificateInfo", "", 200},
		{"wrong secret", "simAK", "not-the-secret", "", "DescribeDomainCertificateInfo", "SignatureDoesNotMatch", 400},
		{"unknown key", "nobody", "simSK", "", "DescribeDomainCertificateInfo", "InvalidAccessKeyId.NotFound", 404},
		{"sts key with its token", "stsAK", "stsSK", "stsTOKEN", "DescribeDomainCertificateInfo", "", 200},
		{"sts key without token", "stsAK", "stsSK", "", "DescribeDomainCertificateInfo", "InvalidSecurityToken.MismatchWithAccessKey", 400},
		{"sts key with another token", "stsAK", "stsSK", "forged", "DescribeDomainCertificateInfo", "InvalidSecurityToken.MismatchWithAccessKey", 400},
		{"expired sts token", "oldAK", "oldSK", "oldTOKEN", "DescribeDomainCertificateInfo", "InvalidSecurityToken.Expired", 400},
		{"token on a permanent key", "simAK", "simSK", "stray", "DescribeDomainCertificateInfo", "InvalidSecurityToken.Malformed", 400},
		{"disabled key", "offAK", "offSK", "", "DescribeDomainCertificateInfo", "InvalidAccessKeyId.Inactive", 400},
		{"action denied by RAM", "roAK", "roSK", "", "SetCdnDomainSSLCertificate", "Forbidden.RAM", 403},
		{"unknown action", "simAK", "simSK", "", "DescribeNothing", "InvalidAction.NotFound", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newSDK(t, ep, tt.id, tt.secret, tt.token).call(context.Background(), tt.action, describe)
			code, status := codeOf(err)
			if code != tt.wantCode || status != tt.wantStatus {
				t.Fatalf("got %s (HTTP %d), want %q (HTTP %d)", code, status, tt.wantCode, tt.wantStatus)
			}
		})
	}
}

// signedRequest builds a POST the way darabonba does and signs it with the
// SDK's own GetAuthorization, so the verifier is checked against the SDK's
// canonicalisation rather than against itself.
func signedRequest(t *testing.T, endpoint, secret string, query map[string]string, body string, mutate func(h map[string]*string)) *http.Request {
	t.Helper()
	u, _ := url.Parse(endpoint)
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	headers := map[string]*string{
		"host":                  dara.String(u.Host),
		"x-acs-version":         dara.String("2018-05-10"),
		"x-acs-action":          dara.String("DescribeDomainCertificateInfo"),
		"x-acs-date":            openapiutil.GetTimestamp(),
		"x-acs-signature-nonce": openapiutil.GetNonce(),
		"content-type":          dara.String("application/x-www-form-urlencoded"),
		"x-acs-content-sha256":  dara.String(hash),
	}
	if mutate != nil {
		mutate(headers)
	}
	q := map[string]*string{}
	vals := url.Values{}
	for k, v := range query {
		q[k] = dara.String(v)
		vals.Set(k, v)
	}
	dr := &dara.Request{Method: dara.String("POST"), Pathname: dara.String("/"), Headers: headers, Query: q}
	auth := openapiutil.GetAuthorization(dr, dara.String("ACS3-HMAC-SHA256"), dara.String(hash), dara.String("simAK"), dara.String(secret))
	target := endpoint + "/"
	if len(vals) > 0 {
		target += "?" + vals.Encode()
	}
	req, err := http.NewRequest("POST", target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k != "host" {
			req.Header.Set(k, *v)
		}
	}
	req.Header.Set("Authorization", *auth)
	return req
}

func TestSignatureCoversBodyQueryAndNonce(t *testing.T) {
	s := startSim(t, testConfig())
	ep := s.Endpoints().OpenAPI
	body := "DomainName=www.example.test"
	do := func(req *http.Request) (int, map[string]string) {
		t.Helper()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]string
		b, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(b, &m)
		return res.StatusCode, m
	}

	ok := signedRequest(t, ep, "simSK", map[string]string{"Filter": "a b*c~d+e", "Empty": ""}, body, nil)
	if status, m := do(ok); status != 200 {
		t.Fatalf("a request signed by the SDK's GetAuthorization: HTTP %d %v", status, m)
	}
	// The same request again: the nonce is spent.
	replay := ok.Clone(context.Background())
	replay.Body = io.NopCloser(strings.NewReader(body))
	if status, m := do(replay); status != 400 || m["Code"] != "SignatureNonceUsed" {
		t.Fatalf("replay: HTTP %d %v, want 400 SignatureNonceUsed", status, m)
	}

	tampered := signedRequest(t, ep, "simSK", nil, body, nil)
	tampered.Body = io.NopCloser(strings.NewReader("DomainName=www.example.tesu"))
	tampered.ContentLength = int64(len(body))
	status, m := do(tampered)
	if status != 400 || m["Code"] != "SignatureDoesNotMatch" {
		t.Fatalf("tampered body: HTTP %d %v, want 400 SignatureDoesNotMatch", status, m)
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message"} {
		if m[k] == "" {
			t.Errorf("error body lacks %s: %v", k, m)
		}
	}

	tq := signedRequest(t, ep, "simSK", map[string]string{"DomainName": "a"}, body, nil)
	tq.URL.RawQuery = "DomainName=b"
	if status, m := do(tq); status != 400 || m["Code"] != "SignatureDoesNotMatch" {
		t.Fatalf("tampered query: HTTP %d %v", status, m)
	}

	th := signedRequest(t, ep, "simSK", nil, body, nil)
	th.Header.Set("x-acs-action", "SetCdnDomainSSLCertificate")
	if status, m := do(th); status != 400 || m["Code"] != "SignatureDoesNotMatch" {
		t.Fatalf("tampered action header: HTTP %d %v", status, m)
	}

	stale := signedRequest(t, ep, "simSK", nil, body, func(h map[string]*string) {
		h["x-acs-date"] = dara.String(time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05Z"))
	})
	if status, m := do(stale); status != 400 || m["Code"] != "InvalidTimeStamp.Expired" {
		t.Fatalf("hour-old x-acs-date: HTTP %d %v", status, m)
	}

	unsigned := signedRequest(t, ep, "simSK", nil, body, nil)
	unsigned.Header.Del("Authorization")
	if status, m := do(unsigned); status != 400 || m["Code"] != "IncompleteSignature" {
		t.Fatalf("no Authorization: HTTP %d %v", status, m)
	}
}

func TestSetValidation(t *testing.T) {
	s := startSim(t, testConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	good := validPair(t, "www.example.test", "*.example.test")
	other := validPair(t, "www.example.test")
	expired := issuePair(t, time.Now().AddDate(0, -3, 0), time.Now().Add(-time.Hour), "www.example.test")
	with := func(f map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range f {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<delete>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cdn := setForm("www.example.test", "n1", good)
	legacy := map[string]string{"DomainName": "www.example.test", "CertName": "n1", "ServerCertificateStatus": "on",
		"ServerCertificate": good.cert, "PrivateKey": good.key}
	tests := []struct {
		name, action string
		form         map[string]string
		code         string
		status       int
	}{
		{"ok", "SetCdnDomainSSLCertificate", cdn, "", 200},
		{"same name same content again", "SetCdnDomainSSLCertificate", cdn, "", 200},
		{"wildcard as .example.test", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", ".example.test"), "", 200},
		{"wildcard as *.example.test", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", "*.example.test"), "InvalidDomain.NotFound", 404},
		{"unknown domain", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", "nope.example.test"), "InvalidDomain.NotFound", 404},
		{"missing domain", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", "<delete>"), "MissingDomainName", 400},
		{"offline", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", "down.example.test"), "InvalidDomain.Offline", 400},
		{"configuring", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", "busy.example.test"), "ServiceBusy", 503},
		{"safe mode", "SetCdnDomainSSLCertificate", with(cdn, "DomainName", "safe.example.test"), "DomainInSafeMode", 400},
		{"live offline", "SetLiveDomainCertificate", with(cdn, "DomainName", "ldown.example.test"), "InvalidDomain.notOnline", 400},
		{"vod offline", "SetVodDomainSSLCertificate", with(cdn, "DomainName", "vdown.example.test"), "InvalidDomain.Offline", 400},
		{"bad SSLProtocol", "SetCdnDomainSSLCertificate", with(cdn, "SSLProtocol", "yes"), "InvalidSSLProtocol.ValueNotSupported", 400},
		{"no SSLPub", "SetCdnDomainSSLCertificate", with(cdn, "SSLPub", "<delete>"), "SSLPub.MissingParameter", 400},
		{"no SSLPri", "SetVodDomainSSLCertificate", with(cdn, "DomainName", "vod.example.test", "SSLPri", "<delete>"), "SSLPri.MissingParameter", 400},
		{"garbage SSLPub", "SetCdnDomainSSLCertificate", with(cdn, "SSLPub", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "InvalidSSLPub", 400},
		{"key as SSLPub", "SetCdnDomainSSLCertificate", with(cdn, "SSLPub", good.key, "SSLPri", good.cert), "InvalidSSLPub", 400},
		{"garbage SSLPri", "SetLiveDomainCertificate", with(cdn, "DomainName", "live.example.test", "SSLPri", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "InvalidSSLPri", 400},
		{"key of another cert", "SetCdnDomainSSLCertificate", with(cdn, "SSLPri", other.key), "Certificate.MissMatch", 400},
		{"expired", "SetCdnDomainSSLCertificate", with(cdn, "CertName", "x", "SSLPub", expired.cert, "SSLPri", expired.key), "Certificate.Expired", 400},
		{"long name", "SetCdnDomainSSLCertificate", with(cdn, "CertName", strings.Repeat("n", 129)), "InvalidCertName.TooLong", 400},
		{"too long certificate", "SetCdnDomainSSLCertificate", with(cdn, "SSLPub", strings.Repeat(good.cert, 80)), "InvalidCertificate.TooLong", 400},
		{"bad Env", "SetCdnDomainSSLCertificate", with(cdn, "Env", "canary"), "InvalidEnv", 400},
		{"vod takes any Env", "SetVodDomainSSLCertificate", with(cdn, "DomainName", "vod.example.test", "Env", "canary"), "", 200},
		{"bad CertRegion", "SetCdnDomainSSLCertificate", with(cdn, "CertRegion", "mars-1"), "Abs.CertRegion.ValueNotSupported", 400},
		{"same name other content", "SetCdnDomainSSLCertificate", with(cdn, "SSLPub", other.cert, "SSLPri", other.key), "Certificate.Duplicated", 400},
		{"same name other content, CDN has no ForceSet", "SetCdnDomainSSLCertificate", with(cdn, "SSLPub", other.cert, "SSLPri", other.key, "ForceSet", "1"), "Certificate.Duplicated", 400},
		{"legacy ok", "SetDomainServerCertificate", legacy, "", 200},
		{"legacy malformed", "SetDomainServerCertificate", with(legacy, "ServerCertificate", "junk"), "Certificate.FormatError", 400},
		{"legacy no key", "SetDomainServerCertificate", with(legacy, "PrivateKey", "<delete>"), "Certificate.KeyNull", 400},
		{"legacy mismatch", "SetDomainServerCertificate", with(legacy, "PrivateKey", other.key), "Certificate.MissMatch", 400},
		{"legacy duplicate without ForceSet", "SetDomainServerCertificate", with(legacy, "ServerCertificate", other.cert, "PrivateKey", other.key), "Certificate.Duplicated", 400},
		{"live duplicate with ForceSet overwrites", "SetLiveDomainCertificate", with(cdn, "DomainName", "live.example.test", "SSLPub", other.cert, "SSLPri", other.key, "ForceSet", "1"), "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.call(context.Background(), tt.action, tt.form)
			code, status := codeOf(err)
			if code != tt.code || status != tt.status {
				t.Fatalf("got %s (HTTP %d), want %q (HTTP %d)", code, status, tt.code, tt.status)
			}
		})
	}
}

func TestDescribeReportsLastSet(t *testing.T) {
	s := startSim(t, testConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	p := validPair(t, "www.example.test", "live.example.test", "vod.example.test")
	leafPEM := p.cert[:strings.Index(p.cert, "-----END CERTIFICATE-----")]

	tests := []struct {
		set, describe, domain string
		form                  map[string]string
		pemField, httpsField  string
	}{
		{"SetCdnDomainSSLCertificate", "DescribeDomainCertificateInfo", "www.example.test", setForm("www.example.test", "cdn-name", p), "ServerCertificate", "ServerCertificateStatus"},
		{"SetVodDomainSSLCertificate", "DescribeVodDomainCertificateInfo", "vod.example.test", setForm("vod.example.test", "vod-name", p), "ServerCertificate", "ServerCertificateStatus"},
		{"SetLiveDomainCertificate", "DescribeLiveDomainCertificateInfo", "live.example.test", setForm("live.example.test", "live-name", p), "SSLPub", "SSLProtocol"},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			before, err := c.call(ctx, tt.describe, map[string]string{"DomainName": tt.domain})
			if err != nil {
				t.Fatal(err)
			}
			if info := certInfo(t, before); info[tt.httpsField] != "off" || info["CertName"] != "" {
				t.Fatalf("before any Set: %v", info)
			}
			if _, err := c.call(ctx, tt.set, tt.form); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // state persists: ask twice
				res, err := c.call(ctx, tt.describe, map[string]string{"DomainName": tt.domain})
				if err != nil {
					t.Fatal(err)
				}
				info := certInfo(t, res)
				if info["CertName"] != tt.form["CertName"] || info[tt.httpsField] != "on" ||
					!strings.HasPrefix(info[tt.pemField], leafPEM) ||
					info["CertExpireTime"] != p.notAfter.UTC().Format("2006-01-02T15:04:05Z") ||
					info["DomainName"] != tt.domain || res["RequestId"] == "" {
					t.Fatalf("describe %d: %v", i, info)
				}
			}
			off := map[string]string{"DomainName": tt.domain, "SSLProtocol": "off"}
			if _, err := c.call(ctx, tt.set, off); err != nil {
				t.Fatal(err)
			}
			res, _ := c.call(ctx, tt.describe, map[string]string{"DomainName": tt.domain})
			if info := certInfo(t, res); info[tt.httpsField] != "off" {
				t.Fatalf("after SSLProtocol=off: %v", info)
			}
		})
	}
	if _, err := c.call(ctx, "DescribeDomainCertificateInfo", map[string]string{"DomainName": "nope.example.test"}); func() string { c, _ := codeOf(err); return c }() != "InvalidDomain.NotFound" {
		t.Fatalf("describe unknown domain: %v", err)
	}
}

func certInfo(t *testing.T, body map[string]any) map[string]string {
	t.Helper()
	infos, _ := body["CertInfos"].(map[string]any)
	list, _ := infos["CertInfo"].([]any)
	if len(list) != 1 {
		t.Fatalf("CertInfos.CertInfo: %v", body)
	}
	m := map[string]string{}
	for k, v := range list[0].(map[string]any) {
		m[k], _ = v.(string)
	}
	return m
}

// TestStagingDoesNotChangeProduction: VOD's Set documents Env=staging,
// which installs on staging only; the current CDN, DCDN, Live and legacy
// references have no Env, and a Set that sends it is refused (InvalidEnv)
// without installing anything.
func TestStagingDoesNotChangeProduction(t *testing.T) {
	s := startSim(t, testConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "vod.example.test")
	f := setForm("vod.example.test", "staged", p)
	f["Env"] = "staging"
	if _, err := c.call(context.Background(), "SetVodDomainSSLCertificate", f); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Installed(ProductVOD, "vod.example.test"); got.CertName != "" {
		t.Fatalf("production carries %q after a staging Set", got.CertName)
	}
	if got, ok := s.Staging(ProductVOD, "vod.example.test"); !ok || got.CertName != "staged" {
		t.Fatalf("staging carries %+v", got)
	}

	for _, tt := range []struct{ action, product, domain string }{
		{"SetCdnDomainSSLCertificate", ProductCDN, "www.example.test"},
		{"SetLiveDomainCertificate", ProductLive, "live.example.test"},
	} {
		p := validPair(t, tt.domain)
		f := setForm(tt.domain, "staged-"+tt.product, p)
		f["Env"] = "staging"
		_, err := c.call(context.Background(), tt.action, f)
		if code, _ := codeOf(err); code != "InvalidEnv" {
			t.Errorf("%s with Env=staging: %v; want InvalidEnv", tt.action, err)
		}
		if got, _ := s.Installed(tt.product, tt.domain); got.CertName != "" {
			t.Errorf("%s: production carries %q after a refused Set", tt.action, got.CertName)
		}
		if got, ok := s.Staging(tt.product, tt.domain); ok {
			t.Errorf("%s: staging carries %+v", tt.action, got)
		}
	}
}

func TestSeededCertificate(t *testing.T) {
	cfg := testConfig()
	old := validPair(t, "www.example.test")
	cfg.Domains.CDN[0].Installed = &SeedCert{CertName: "old-name", Cert: old.cert}
	cfg.Domains.Live[0].Installed = &SeedCert{CertName: "bare", NotAfter: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	res, err := c.call(context.Background(), "DescribeDomainCertificateInfo", map[string]string{"DomainName": "www.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if info := certInfo(t, res); info["CertName"] != "old-name" || info["ServerCertificate"] != old.cert || info["ServerCertificateStatus"] != "on" {
		t.Fatalf("seeded cdn: %v", info)
	}
	res, err = c.call(context.Background(), "DescribeLiveDomainCertificateInfo", map[string]string{"DomainName": "live.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if info := certInfo(t, res); info["CertName"] != "bare" || info["CertExpireTime"] != "2030-01-02T03:04:05Z" || info["SSLPub"] != "" {
		t.Fatalf("seeded live: %v", info)
	}
	// The seeded name is taken: other content under it is a duplicate.
	if _, err := c.call(context.Background(), "SetCdnDomainSSLCertificate", setForm("www.example.test", "old-name", validPair(t, "www.example.test"))); func() string { c, _ := codeOf(err); return c }() != "Certificate.Duplicated" {
		t.Fatalf("reusing a seeded name: %v", err)
	}
}

func TestJournalCompleteAndSecretFree(t *testing.T) {
	var buf bytes.Buffer
	cfg := testConfig()
	cfg.JournalWriter = &buf
	s := startSim(t, cfg)
	ep := s.Endpoints().OpenAPI
	good := newSDK(t, ep, "simAK", "simSK", "")
	bad := newSDK(t, ep, "simAK", "wrong", "")
	sts := newSDK(t, ep, "stsAK", "stsSK", "stsTOKEN")
	p := validPair(t, "www.example.test")
	ctx := context.Background()
	calls := []func() error{
		func() error {
			_, err := good.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "j1", p))
			return err
		},
		func() error {
			_, err := bad.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "j1", p))
			return err
		},
		func() error {
			_, err := sts.call(ctx, "SetLiveDomainCertificate", setForm("live.example.test", "j1", p))
			return err
		},
		func() error {
			_, err := good.call(ctx, "SetVodDomainSSLCertificate", setForm("nope.example.test", "j1", p))
			return err
		},
		func() error { _, err := good.call(ctx, "NoSuchAction", nil); return err },
		func() error {
			_, err := good.call(ctx, "DescribeDomainCertificateInfo", map[string]string{"DomainName": "www.example.test"})
			return err
		},
	}
	wantOK := []bool{true, false, true, false, false, true}
	for i, call := range calls {
		if err := call(); (err == nil) != wantOK[i] {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	entries := s.Journal().Entries()
	if len(entries) != len(calls) {
		t.Fatalf("journal has %d entries for %d calls", len(entries), len(calls))
	}
	for i, e := range entries {
		if (e.Outcome == "ok") != wantOK[i] || e.RequestID == "" || e.API == "" || e.Time.IsZero() {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if entries[0].CertName != "j1" || entries[0].Domain != "www.example.test" || entries[0].Service != "cdn" || entries[0].Status != 200 {
		t.Errorf("first entry: %+v", entries[0])
	}
	if entries[1].Code != "SignatureDoesNotMatch" || entries[3].Code != "InvalidDomain.NotFound" {
		t.Errorf("codes: %q %q", entries[1].Code, entries[3].Code)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(calls) {
		t.Fatalf("journal stream has %d lines", len(lines))
	}
	for _, secret := range []string{keyBody(p), "PRIVATE KEY", "simSK", "stsSK", "stsTOKEN"} {
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("the journal stream holds a secret (%d bytes)", len(secret))
		}
	}
}

func TestThrottledAnswerCarriesRateLimitHeader(t *testing.T) {
	cfg := testConfig()
	cfg.Quotas = map[string]float64{"DescribeVodDomainCertificateInfo": 2}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	var te *openapi.ThrottlingError
	for i := 0; i < 3; i++ {
		_, err := c.call(context.Background(), "DescribeVodDomainCertificateInfo", map[string]string{"DomainName": "vod.example.test"})
		if i < 2 && err != nil {
			t.Fatalf("call %d within the quota: %v", i, err)
		}
		if i == 2 && !errors.As(err, &te) {
			t.Fatalf("third call in a second at 2/s: %v", err)
		}
	}
	if dara.StringValue(te.Code) != "Throttling.User" || dara.IntValue(te.StatusCode) != 400 {
		t.Fatalf("throttled with %s HTTP %d", dara.StringValue(te.Code), dara.IntValue(te.StatusCode))
	}
	// The SDK reads TimeLeft from x-ratelimit-user-api, in milliseconds.
	if ms := dara.Int64Value(te.RetryAfter); ms <= 0 || ms > 1000 {
		t.Fatalf("TimeLeft %d ms, want within (0, 1000]", ms)
	}
}

// TestInjectedThrottleHint: an injected throttle says TimeLeft 500 ms by
// default, what Faults.ThrottleTimeLeft says, or nothing when negative.
func TestInjectedThrottleHint(t *testing.T) {
	for _, tt := range []struct {
		left time.Duration
		want int64
	}{{0, 500}, {200 * time.Millisecond, 200}, {-1, 0}} {
		cfg := testConfig()
		cfg.Faults = Faults{Scripted: []Script{{Domain: "vod.example.test", Code: "Throttling.User"}}, ThrottleTimeLeft: tt.left}
		s := startSim(t, cfg)
		c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
		_, err := c.call(context.Background(), "DescribeVodDomainCertificateInfo", map[string]string{"DomainName": "vod.example.test"})
		var te *openapi.ThrottlingError
		if !errors.As(err, &te) {
			t.Fatalf("left %v: %v, want a throttle", tt.left, err)
		}
		if ms := dara.Int64Value(te.RetryAfter); ms != tt.want {
			t.Errorf("left %v: TimeLeft %d ms, want %d", tt.left, ms, tt.want)
		}
	}
}
