package plan

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/manifest"
)

// testBundle issues a leaf for names under a fresh demo CA and parses it.
func testBundle(t testing.TB, names ...string) *bundle.Bundle {
	t.Helper()
	now := time.Now()
	root, err := cloudsim.NewRootCA("test root", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: names, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 2, 0)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "bundle.pem", Data: append(leaf.CertPEM, leaf.KeyPEM...)}}, bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuild(t *testing.T) {
	b := testBundle(t, "example.com", "*.example.com")
	m := &manifest.Manifest{Targets: []manifest.Target{
		{Product: CDN, Domain: "WWW.Example.com", Staging: true},
		{Product: CDN, Domain: "*.example.com"},
		{Product: CDNLegacy, Domain: ".example.com"},
		{Product: VOD, Domain: "vod.example.com", Region: "ap-southeast-1", Staging: true},
		{Product: Live, Domain: "pull.example.com", Staging: true},
		{Product: Live, Domain: "a.b.example.com", Bundle: "certs/example.com/"},
		{Product: CDN, Domain: "other.org"},
	}}
	p, err := Build(b, m, "certs/example.com/fullchain.pem", TestProducts)
	if err != nil {
		t.Fatal(err)
	}
	key := b.KeyPEM().Reveal()
	cert := b.CertPEM()
	name := p.CertName
	want := []wantCall{
		{"SetCdnDomainSSLCertificate", "2018-05-10", "cdn.aliyuncs.com", "www.example.com",
			"DomainName=www.example.com CertName=" + name + " CertType=upload SSLProtocol=on SSLPub=CERT SSLPri=KEY"},
		{"SetCdnDomainSSLCertificate", "2018-05-10", "cdn.aliyuncs.com", ".example.com",
			"DomainName=.example.com CertName=" + name + " CertType=upload SSLProtocol=on SSLPub=CERT SSLPri=KEY"},
		{"SetDomainServerCertificate", "2018-05-10", "cdn.aliyuncs.com", ".example.com",
			"DomainName=.example.com ServerCertificateStatus=on CertName=" + name + " ServerCertificate=CERT PrivateKey=KEY ForceSet=1"},
		{"SetVodDomainSSLCertificate", "2017-03-21", "vod.ap-southeast-1.aliyuncs.com", "vod.example.com",
			"DomainName=vod.example.com CertName=" + name + " CertType=upload SSLProtocol=on SSLPub=CERT SSLPri=KEY Env=staging"},
		{"SetLiveDomainCertificate", "2016-11-01", "live.aliyuncs.com", "pull.example.com",
			"DomainName=pull.example.com CertName=" + name + " CertType=upload SSLProtocol=on SSLPub=CERT SSLPri=KEY ForceSet=1"},
	}
	assertCalls(t, p.Calls, want, cert, key)
	if len(p.NotCovered) != 1 || p.NotCovered[0].Target.Domain != "a.b.example.com" || p.NotCovered[0].API.Action != "SetLiveDomainCertificate" {
		t.Errorf("not covered = %v, want the bound a.b.example.com", p.NotCovered)
	}
	// 2 CDN calls at 30/s and 1 legacy call at 10/s: the legacy API bounds it.
	if got := p.LowerBound(); got != 100*time.Millisecond {
		t.Errorf("lower bound = %v, want 100ms", got)
	}
}

func TestLowerBound(t *testing.T) {
	calls := func(p manifest.Product, n int) []Call {
		cs := make([]Call, n)
		for i := range cs {
			c, err := TargetCall(TestProducts, manifest.Target{Product: p, Domain: "www.example.com", Region: "cn-hangzhou"})
			if err != nil {
				t.Fatal(err)
			}
			cs[i] = c
		}
		return cs
	}
	tests := []struct {
		calls []Call
		want  time.Duration
	}{
		{nil, 0},
		{calls(CDN, 600), 20 * time.Second},
		{append(append(calls(CDN, 600), calls(VOD, 200)...), calls(Live, 200)...), 20 * time.Second},
		{append(calls(CDN, 30), calls(CDNLegacy, 30)...), 3 * time.Second},
	}
	for i, tt := range tests {
		if got := LowerBound(tt.calls); got != tt.want {
			t.Errorf("case %d: %v, want %v", i, got, tt.want)
		}
	}
}

// TestLowerBoundLanes: the bound groups calls as the fan-out paces them:
// by account (each account's quotas are its own, its calls run beside
// the others') and by service and action (ALB's and NLB's
// UpdateListenerAttribute are two quotas).
func TestLowerBoundLanes(t *testing.T) {
	alb := API{Service: "alb", Action: "UpdateListenerAttribute", Quota: 10}
	nlb := API{Service: "nlb", Action: "UpdateListenerAttribute", Quota: 10}
	calls := func(api API, account string, n int) []Call {
		cs := make([]Call, n)
		for i := range cs {
			cs[i] = Call{API: api, Target: manifest.Target{Account: account}}
		}
		return cs
	}
	tests := []struct {
		name  string
		calls []Call
		want  time.Duration
	}{
		{"one API", calls(alb, "", 20), 2 * time.Second},
		{"ALB and NLB", append(calls(alb, "", 20), calls(nlb, "", 20)...), 2 * time.Second},
		{"three accounts", append(append(calls(alb, "", 20), calls(alb, "media", 20)...), calls(alb, "games", 30)...), 3 * time.Second},
	}
	for _, tt := range tests {
		if got := LowerBound(tt.calls); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCertName(t *testing.T) {
	na := time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)
	fp := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		cn   string
		sans []string
		want string
	}{
		{"www.example.com", nil, "certdrop-www.example.com-20270131-01234567"},
		{"*.Example.com", nil, "certdrop-wildcard.example.com-20270131-01234567"},
		{"", []string{"san.example.com"}, "certdrop-san.example.com-20270131-01234567"},
		{"My Org / Prod", nil, "certdrop-my-org---prod-20270131-01234567"},
		{"", nil, "certdrop-cert-20270131-01234567"},
	}
	for _, tt := range tests {
		got := CertName(bundle.Identity{CommonName: tt.cn, SANs: tt.sans, NotAfter: na, Fingerprint: fp})
		if got != tt.want {
			t.Errorf("CertName(%q) = %q, want %q", tt.cn, got, tt.want)
		}
	}
	long := CertName(bundle.Identity{CommonName: strings.Repeat("a", 300) + ".com", NotAfter: na, Fingerprint: fp})
	if len(long) != 128 || !strings.HasSuffix(long, "-20270131-01234567") {
		t.Errorf("long CertName = %d chars %q", len(long), long)
	}
}

// TestSecretsRedacted checks every way a call can be printed, logged or
// marshalled hides the key.
func TestSecretsRedacted(t *testing.T) {
	b := testBundle(t, "example.com")
	m := &manifest.Manifest{Targets: []manifest.Target{{Product: CDN, Domain: "example.com"}, {Product: CDNLegacy, Domain: "example.com"}}}
	p, err := Build(b, m, "", TestProducts)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.Split(b.KeyPEM().Reveal(), "\n")[1]
	var out strings.Builder
	log := slog.New(slog.NewJSONHandler(&out, nil))
	for _, c := range p.Calls {
		fmt.Fprintf(&out, "%v %+v %s %#v\n", c, c.Params, c, c.Params)
		log.Info("call", "call", c, "params", c.Params)
		js, _ := json.Marshal(c.Params)
		out.Write(js)
	}
	if strings.Contains(out.String(), keyBody) || strings.Contains(out.String(), "PRIVATE KEY") {
		t.Fatal("a call's rendering contains the private key")
	}
	if !strings.Contains(out.String(), bundle.Redacted) {
		t.Fatal("want the key shown as <redacted>")
	}
}

// TestBuildCarriesReplace: the manifest's replace setting reaches the
// fan-out through the plan, older when the manifest says nothing.
func TestBuildCarriesReplace(t *testing.T) {
	b := testBundle(t, "www.example.com")
	for _, tt := range []struct{ in, want string }{{"", ReplaceOlder}, {ReplaceOlder, ReplaceOlder}, {ReplaceAlways, ReplaceAlways}} {
		m := &manifest.Manifest{Defaults: manifest.Defaults{Replace: tt.in},
			Targets: []manifest.Target{{Product: CDN, Domain: "www.example.com"}}}
		p, err := Build(b, m, "", TestProducts)
		if err != nil {
			t.Fatal(err)
		}
		if p.Replace != tt.want {
			t.Errorf("replace %q: plan says %q, want %q", tt.in, p.Replace, tt.want)
		}
	}
}

// TestBuildDCDNAndOSS checks the calls of the two newer targets: DCDN's
// SetDcdnDomainSSLCertificate with the CDN-style parameters, no Env (its
// current reference has none, even for a target marked staging) and a
// wildcard written ".example.com"; OSS's PutCname with the bucket,
// the domain, the certificate, the key (sensitive) and Force, to the
// bucket region's endpoint; and their quotas in the lower bound.
func TestBuildDCDNAndOSS(t *testing.T) {
	b := testBundle(t, "example.com", "*.example.com")
	m := &manifest.Manifest{Targets: []manifest.Target{
		{Product: DCDN, Domain: "API.example.com", Staging: true},
		{Product: DCDN, Domain: "*.example.com"},
		{Product: OSS, Domain: "static.example.com", Fields: map[string]string{"bucket": "example-static"}, Region: "cn-hangzhou"},
		{Product: OSS, Domain: "files.example.com", Fields: map[string]string{"bucket": "example-sg"}, Region: "ap-southeast-1"},
	}}
	p, err := Build(b, m, "", TestProducts)
	if err != nil {
		t.Fatal(err)
	}
	key, cert, name := b.KeyPEM().Reveal(), b.CertPEM(), p.CertName
	want := []wantCall{
		{"SetDcdnDomainSSLCertificate", "2018-01-15", "dcdn.aliyuncs.com", "api.example.com",
			"DomainName=api.example.com CertName=" + name + " CertType=upload SSLProtocol=on SSLPub=CERT SSLPri=KEY"},
		{"SetDcdnDomainSSLCertificate", "2018-01-15", "dcdn.aliyuncs.com", ".example.com",
			"DomainName=.example.com CertName=" + name + " CertType=upload SSLProtocol=on SSLPub=CERT SSLPri=KEY"},
		{"PutCname", "", "oss-cn-hangzhou.aliyuncs.com", "static.example.com",
			"Bucket=example-static Domain=static.example.com Certificate=CERT PrivateKey=KEY Force=true"},
		{"PutCname", "", "oss-ap-southeast-1.aliyuncs.com", "files.example.com",
			"Bucket=example-sg Domain=files.example.com Certificate=CERT PrivateKey=KEY Force=true"},
	}
	assertCalls(t, p.Calls, want, cert, key)
	// 2 PutCname calls at 10/s bound it (2 DCDN calls at 30/s take less).
	if got := p.LowerBound(); got != 200*time.Millisecond {
		t.Errorf("lower bound = %v, want 200ms", got)
	}
}

// wantCall is a call as a test expects it: the parameters written
// name=value, with the certificate as CERT and the key as KEY.
type wantCall struct{ action, version, endpoint, domain, params string }

// assertCalls compares calls with want, checking that the key parameter
// is marked sensitive and never prints.
func assertCalls(t *testing.T, calls []Call, want []wantCall, cert, key string) {
	t.Helper()
	if len(calls) != len(want) {
		t.Fatalf("%d calls, want %d: %v", len(calls), len(want), calls)
	}
	for i, w := range want {
		c := calls[i]
		var ps []string
		for _, prm := range c.Params {
			v := prm.Value
			switch v {
			case key:
				v = "KEY"
				if !prm.Sensitive {
					t.Errorf("%s: the key parameter %s is not marked sensitive", c, prm.Name)
				}
			case cert:
				v = "CERT"
			}
			ps = append(ps, prm.Name+"="+v)
		}
		got := strings.Join(ps, " ")
		if c.API.Action != w.action || c.API.Version != w.version || c.Endpoint != w.endpoint || c.DomainName != w.domain || got != w.params {
			t.Errorf("call %d:\n got %s %s %s %s %s\nwant %s %s %s %s %s", i,
				c.API.Action, c.API.Version, c.Endpoint, c.DomainName, got, w.action, w.version, w.endpoint, w.domain, w.params)
		}
		if s := fmt.Sprint(c.Params); strings.Contains(s, "PRIVATE KEY") {
			t.Errorf("%s: the key prints: %s", c, s)
		}
	}
}
