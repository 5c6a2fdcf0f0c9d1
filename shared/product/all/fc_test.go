package all_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/fc"
)

// fcRoutes are a domain's routes, as FC writes them.
func fcRoutes() []map[string]any {
	return []map[string]any{
		{"path": "/api/*", "functionName": "api", "qualifier": "prod", "methods": []any{"GET", "POST"}},
		{"path": "/hooks/*", "functionName": "hooks", "qualifier": "LATEST", "methods": []any{"POST"},
			"rewriteConfig": map[string]any{"equalRules": []any{map[string]any{"match": "/old", "replacement": "/new"}}}},
		{"path": "/*", "functionName": "web"},
	}
}

// fcSim is an account with FC custom domains.
func fcSim(t *testing.T, seed issued) *cloudsim.Sim {
	return cloudsimtest.Start(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: testAK, AccessKeySecret: testSK}},
		OSS:         cloudsim.OSSSettings{Disabled: true},
		FC: cloudsim.FCSettings{Domains: []cloudsim.FCDomainSettings{
			{Name: "api.example.test", Protocol: "HTTP,HTTPS", Routes: fcRoutes(),
				TLSConfig:  map[string]any{"minVersion": "TLSv1.2", "cipherSuites": []any{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}},
				AuthConfig: map[string]any{"authType": "jwt", "authInfo": `{"jwks":{}}`},
				WAFConfig:  map[string]any{"enableWAF": true},
				CertName:   "manual_2024", Cert: seed.pem},
			{Name: "plain.example.test", Protocol: "HTTP", Routes: fcRoutes()},
		}},
	})
}

// TestFCCustomDomain sets FC custom domains' certificate through the
// fan-out against the emulator, whose UpdateCustomDomain replaces the
// whole configuration (what a field left out held is lost): every route,
// the TLS, auth and WAF settings and the protocol survive; the key arrives
// in the form FC takes and the certificate under a name FC accepts; the
// ROA calls are signed as the SDKs sign them (the emulator checks); a
// domain serving HTTP only fails saying what to do and is left as it is;
// a second run finds the domain unchanged.
func TestFCCustomDomain(t *testing.T) {
	now := time.Now()
	seed := issue(t, now.AddDate(0, -2, 0), now.AddDate(0, 0, 20), "api.example.test")
	cert := issue(t, now.Add(-time.Hour), now.AddDate(0, 0, 90), "api.example.test", "plain.example.test")
	sim := fcSim(t, seed)
	c := newClient(t, cloud.Options{Getenv: simEnv(sim)})
	before, _ := sim.FCDomain("api.example.test")
	plainBefore, _ := sim.FCDomain("plain.example.test")

	m := &manifest.Manifest{Version: 1, Targets: []manifest.Target{
		{Product: fc.Name, Domain: "api.example.test", Region: "cn-hangzhou"},
		{Product: fc.Name, Domain: "plain.example.test", Region: "cn-hangzhou"},
	}}
	p, err := plan.Build(cert.b, m, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	state := map[string]fanout.Result{}
	for _, r := range fanout.Run(ctx, c, p, fanout.Options{}) {
		state[r.Call.DomainName] = r
		leaks.Seen(r.Err)
	}

	if r := state["api.example.test"]; r.State != fanout.Deployed {
		t.Fatalf("api.example.test: %s %v", r.State, r.Err)
	}
	after, _ := sim.FCDomain("api.example.test")
	for _, k := range []string{"routeConfig", "tlsConfig", "authConfig", "wafConfig", "protocol"} {
		if !reflect.DeepEqual(after.Config[k], before.Config[k]) {
			t.Errorf("%s changed:\n got %v\nwant %v", k, after.Config[k], before.Config[k])
		}
	}
	if routes := after.Config["routeConfig"].(map[string]any)["routes"].([]any); len(routes) != 3 {
		t.Errorf("routes after the update: %v", routes)
	}
	if after.Fingerprint != cert.b.Identity().Fingerprint {
		t.Errorf("the domain carries %s, want the new certificate", after.Fingerprint)
	}
	if blk, _ := pem.Decode([]byte(after.KeyPEM)); blk == nil || blk.Type != "EC PRIVATE KEY" {
		t.Errorf("the key arrived as %v, want SEC 1 (EC PRIVATE KEY)", blk)
	}
	if want := fc.CertName(p.CertName); after.CertName != want || !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`).MatchString(want) {
		t.Errorf("certName %q, want %q, a letter first", after.CertName, want)
	}

	var ho *fc.HTTPOnlyError
	r := state["plain.example.test"]
	if r.State != fanout.Failed || !errors.As(r.Err, &ho) || ho.Class() != failure.Permanent ||
		!strings.Contains(r.Err.Error(), "set its protocol to HTTPS or HTTP,HTTPS") {
		t.Errorf("plain.example.test: %s %v; want a failure saying what to do", r.State, r.Err)
	}
	if plainAfter, _ := sim.FCDomain("plain.example.test"); !reflect.DeepEqual(plainAfter.Config, plainBefore.Config) {
		t.Errorf("plain.example.test changed: %v", plainAfter.Config)
	}

	updates := journalCount(sim, "UpdateCustomDomain")
	for _, r := range fanout.Run(ctx, c, p, fanout.Options{}) {
		if r.Call.DomainName == "api.example.test" && r.State != fanout.Unchanged {
			t.Errorf("second run: %s %v", r.State, r.Err)
		}
	}
	if n := journalCount(sim, "UpdateCustomDomain"); n != updates {
		t.Errorf("the second run sent %d UpdateCustomDomain", n-updates)
	}
}

// TestFCEmulatorAsTheAPI: the emulator's FC answers as the real API is
// modelled (fc.go): an update that leaves routeConfig out drops the
// routes, a PKCS#8 key is refused, a name starting with a digit is
// refused, the wrong method is not routed, a domain it lacks is
// DomainNameNotFound. So the product's test above proves what it claims.
func TestFCEmulatorAsTheAPI(t *testing.T) {
	now := time.Now()
	seed := issue(t, now.AddDate(0, -2, 0), now.AddDate(0, 0, 20), "api.example.test")
	sim := fcSim(t, seed)
	tr, err := cloud.New(cloud.Options{Getenv: simEnv(sim)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	roa := func(method, domain string, body map[string]any, secrets ...string) (cloud.ROAResponse, error) {
		return tr.ROA(ctx, cloud.ROARequest{EndpointVar: fc.EnvEndpoint, Host: fc.Host("cn-hangzhou"),
			Action: "UpdateCustomDomain", Version: fc.Version, Method: method,
			Path: "/2023-03-30/custom-domains/" + cloud.PathSegment(domain), Body: body, Secrets: secrets})
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: mustEC(t, seed)}))
	pkcs8 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, seed)}))
	leaks.SecretPEM(pkcs1)
	leaks.SecretPEM(pkcs8)
	cc := func(name, key string) map[string]any {
		return map[string]any{"certName": name, "certificate": seed.pem, "privateKey": key}
	}

	for _, tc := range []struct {
		name, method, domain string
		body                 map[string]any
		code                 string
	}{
		{"PKCS#8 key", http.MethodPut, "api.example.test", map[string]any{"protocol": "HTTPS", "certConfig": cc("ok", pkcs8)}, "InvalidArgument"},
		{"name starting with a digit", http.MethodPut, "api.example.test", map[string]any{"protocol": "HTTPS", "certConfig": cc("2024cert", pkcs1)}, "InvalidArgument"},
		{"HTTPS without a certificate", http.MethodPut, "api.example.test", map[string]any{"protocol": "HTTPS"}, "InvalidArgument"},
		{"wrong method", http.MethodPost, "api.example.test", map[string]any{}, "InvalidAction.NotFound"},
		{"unknown domain", http.MethodPut, "nope.example.test", map[string]any{"protocol": "HTTP"}, "DomainNameNotFound"},
	} {
		_, err := roa(tc.method, tc.domain, tc.body, pkcs1, pkcs8)
		leaks.Seen(err)
		var ce *cloud.Error
		if !errors.As(err, &ce) || ce.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if d, _ := sim.FCDomain("api.example.test"); len(d.Config["routeConfig"].(map[string]any)["routes"].([]any)) != 3 {
		t.Fatal("a refused update changed the domain")
	}
	// Accepted, without routeConfig: the routes are gone.
	res, err := roa(http.MethodPut, "api.example.test", map[string]any{"protocol": "HTTP,HTTPS", "certConfig": cc("_ok", pkcs1)}, pkcs1)
	if err != nil || res.Body["domainName"] != "api.example.test" {
		t.Fatalf("update: %+v, %v", res, err)
	}
	if d, _ := sim.FCDomain("api.example.test"); d.Config["routeConfig"] != nil || d.Config["tlsConfig"] != nil {
		t.Errorf("an update without routeConfig kept %v", d.Config)
	}
}

func mustEC(t *testing.T, c issued) []byte {
	t.Helper()
	blk, _ := pem.Decode([]byte(c.b.KeyPEM().Reveal()))
	if blk == nil || blk.Type != "EC PRIVATE KEY" {
		t.Fatal("the test bundle's key is not SEC 1")
	}
	return blk.Bytes
}

func mustPKCS8(t *testing.T, c issued) []byte {
	t.Helper()
	k, err := x509.ParseECPrivateKey(mustEC(t, c))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestFCKeyAndName: Key turns PKCS#8 RSA and EC keys into the forms FC
// takes and leaves the others; CertName makes a name FC accepts.
func TestFCKeyAndName(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8 := func(k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		s := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		leaks.SecretPEM(s)
		return s
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"rsa pkcs8", p8(rk), "RSA PRIVATE KEY"},
		{"ec pkcs8", p8(ek), "EC PRIVATE KEY"},
		{"pkcs1 kept", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})), "RSA PRIVATE KEY"},
		{"not a key", "junk", ""},
	} {
		out := fc.Key(tc.in)
		leaks.SecretPEM(out)
		blk, _ := pem.Decode([]byte(out))
		switch {
		case tc.want == "" && out != tc.in:
			t.Errorf("%s: changed", tc.name)
		case tc.want != "" && (blk == nil || blk.Type != tc.want):
			t.Errorf("%s: %v, want %s", tc.name, blk, tc.want)
		}
	}
	re := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)
	long := "certdrop-" + strings.Repeat("a", 100) + ".example.com-20260101-abcdef12"
	for _, tc := range []struct{ in, want string }{
		{"certdrop-www.example.com-20260101-abcdef12", "certdrop-www-example-com-20260101-abcdef12"},
		{"1abc.example.com", "c-1abc-example-com"},
		{long, "certdrop-" + strings.Repeat("a", 25) + "-example-com-20260101-abcdef12"},
	} {
		got := fc.CertName(tc.in)
		if !re.MatchString(got) || got != tc.want {
			t.Errorf("CertName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
