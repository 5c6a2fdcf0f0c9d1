package cloudsim

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
)

// testPair is a certificate chain and its key, PEM encoded.
type testPair struct {
	cert, key string
	notAfter  time.Time
}

// issuePair issues a leaf for names under a fresh demo CA, valid from
// notBefore to notAfter, with its intermediate in the chain.
func issuePair(t *testing.T, notBefore, notAfter time.Time, names ...string) testPair {
	t.Helper()
	root, err := NewRootCA("test root", notBefore.Add(-24*time.Hour), notAfter.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.Intermediate("test intermediate", notBefore.Add(-24*time.Hour), notAfter.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(LeafRequest{DNSNames: names, NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	return testPair{cert: string(leaf.CertPEM) + string(inter.CertPEM()), key: string(leaf.KeyPEM), notAfter: leaf.Cert.NotAfter}
}

// validPair issues a leaf valid now for 90 days.
func validPair(t *testing.T, names ...string) testPair {
	return issuePair(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), names...)
}

// testConfig is a small account: credentials simAK/simSK, a few domains in
// every state.
func testConfig() Config {
	return Config{
		Credentials: []Credential{
			{AccessKeyID: "simAK", AccessKeySecret: "simSK"},
			{AccessKeyID: "stsAK", AccessKeySecret: "stsSK", SecurityToken: "stsTOKEN"},
			{AccessKeyID: "oldAK", AccessKeySecret: "oldSK", SecurityToken: "oldTOKEN", Expired: true},
			{AccessKeyID: "offAK", AccessKeySecret: "offSK", Disabled: true},
			{AccessKeyID: "roAK", AccessKeySecret: "roSK", DenyActions: []string{"SetCdnDomainSSLCertificate"}},
		},
		Domains: Domains{
			CDN: []Domain{
				{Name: "www.example.test"},
				{Name: ".example.test"},
				{Name: "down.example.test", State: StateOffline},
				{Name: "busy.example.test", State: StateConfiguring},
				{Name: "safe.example.test", State: StateSafeMode},
			},
			VOD:  []Domain{{Name: "vod.example.test"}, {Name: "vdown.example.test", State: StateOffline}},
			Live: []Domain{{Name: "live.example.test"}, {Name: "ldown.example.test", State: StateOffline}},
		},
		OSS: OSSSettings{Disabled: true},
	}
}

// startSim starts an emulator that is closed when the test ends.
func startSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sdk is the real darabonba-openapi client pointed at the emulator, with
// its own retries off, as shared/cloud configures it.
type sdk struct {
	c *openapi.Client
}

func newSDK(t *testing.T, endpoint, id, secret, token string) *sdk {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &openapiutil.Config{
		AccessKeyId:     dara.String(id),
		AccessKeySecret: dara.String(secret),
		Endpoint:        dara.String(u.Host),
		Protocol:        dara.String(u.Scheme),
		ReadTimeout:     dara.Int(10000),
		ConnectTimeout:  dara.Int(5000),
		RetryOptions:    &dara.RetryOptions{Retryable: false},
		// darabonba's default client sets http.Client.Timeout under a lock
		// but reads it without one: a data race under concurrent calls.
		HttpClient: httpDoer{&http.Client{Timeout: 15 * time.Second}},
	}
	if token != "" {
		cfg.SecurityToken = dara.String(token)
	}
	c, err := openapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.DisableSDKError = dara.Bool(true)
	return &sdk{c: c}
}

// httpDoer is a dara.HttpClient over a shared *http.Client.
type httpDoer struct{ c *http.Client }

func (d httpDoer) Call(r *http.Request, _ *http.Transport) (*http.Response, error) { return d.c.Do(r) }

// call makes one RPC-style POST with a form body, as shared/cloud does.
func (s *sdk) call(ctx context.Context, action string, form map[string]string) (map[string]any, error) {
	api, ok := lookupAPI(action)
	version := api.version
	if !ok {
		version = "2018-05-10"
	}
	body := map[string]any{}
	for k, v := range form {
		body[k] = v
	}
	params := &openapiutil.Params{
		Action:      dara.String(action),
		Version:     dara.String(version),
		Protocol:    dara.String("HTTPS"),
		Pathname:    dara.String("/"),
		Method:      dara.String("POST"),
		AuthType:    dara.String("AK"),
		Style:       dara.String("RPC"),
		ReqBodyType: dara.String("formData"),
		BodyType:    dara.String("json"),
	}
	res, err := s.c.CallApiWithCtx(ctx, params, &openapiutil.OpenApiRequest{Body: body}, &dara.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	b, _ := res["body"].(map[string]any)
	return b, nil
}

// codeOf returns the OpenAPI error code and HTTP status of an SDK error.
func codeOf(err error) (string, int) {
	var ce *openapi.ClientError
	var se *openapi.ServerError
	var te *openapi.ThrottlingError
	switch {
	case errors.As(err, &te):
		return dara.StringValue(te.Code), dara.IntValue(te.StatusCode)
	case errors.As(err, &ce):
		return dara.StringValue(ce.Code), dara.IntValue(ce.StatusCode)
	case errors.As(err, &se):
		return dara.StringValue(se.Code), dara.IntValue(se.StatusCode)
	case err == nil:
		return "", 200
	}
	return "network: " + err.Error(), 0
}

// setForm is a SetCdnDomainSSLCertificate / SetVodDomainSSLCertificate /
// SetLiveDomainCertificate form.
func setForm(domain, name string, p testPair) map[string]string {
	return map[string]string{
		"DomainName": domain, "CertName": name, "CertType": "upload",
		"SSLProtocol": "on", "SSLPub": p.cert, "SSLPri": p.key,
	}
}

// keyBody returns the base64 body of a PEM key, to look for in outputs.
func keyBody(p testPair) string {
	lines := strings.Split(strings.TrimSpace(p.key), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}
