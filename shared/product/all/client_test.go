package all_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// set and describe call the client and hand every error to the leak check.
func set(ctx context.Context, c *product.Client, call plan.Call) (string, error) {
	o := &once{}
	err := c.Set(ctx, call, o)
	leaks.Seen(err)
	return o.rid, err
}

func describe(ctx context.Context, c *product.Client, call plan.Call) (fanout.Installed, error) {
	inst, err := c.Describe(ctx, call, &once{})
	leaks.Seen(err)
	return inst, err
}

func TestSetThenDescribeEveryProduct(t *testing.T) {
	s := cloudsimtest.Start(t, simConfig())
	c := newClient(t, cloud.Options{Getenv: env(s)})
	b := testBundle(t, "*."+testDomain, "vod."+testDomain, "pull."+testDomain)
	id := b.Identity()
	calls := planFor(t, b,
		manifest.Target{Product: cdn.Name, Domain: "www." + testDomain},
		manifest.Target{Product: cdn.Name, Domain: "*." + testDomain},
		manifest.Target{Product: cdn.LegacyName, Domain: "img." + testDomain},
		manifest.Target{Product: vod.Name, Domain: "vod." + testDomain, Region: vod.RegionShanghai, Staging: false},
		manifest.Target{Product: vod.Name, Domain: "vod-sg." + testDomain, Region: vod.RegionSingapore},
		manifest.Target{Product: live.Name, Domain: "pull." + testDomain},
	)
	products := map[manifest.Product]string{cdn.Name: cloudsim.ProductCDN, cdn.LegacyName: cloudsim.ProductCDN,
		vod.Name: cloudsim.ProductVOD, live.Name: cloudsim.ProductLive}
	ctx := context.Background()
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			before, err := describe(ctx, c, call)
			if err != nil {
				t.Fatal(err)
			}
			if before.CertName != "" || before.HTTPS || before.RequestID == "" {
				t.Fatalf("before Set: %+v", before)
			}
			rid, err := set(ctx, c, call)
			if err != nil {
				t.Fatal(err)
			}
			if rid == "" {
				t.Fatal("no RequestId")
			}
			inst, err := describe(ctx, c, call)
			if err != nil {
				t.Fatal(err)
			}
			if inst.CertName != plan.CertName(id) || inst.Fingerprint != id.Fingerprint ||
				!inst.NotAfter.Equal(id.NotAfter) || !inst.HTTPS || inst.RequestID == "" || inst.RequestID == rid {
				t.Fatalf("after Set: %+v, want %s %s %v", inst, plan.CertName(id), id.Fingerprint, id.NotAfter)
			}
			got, _ := s.Installed(products[call.Target.Product], call.DomainName)
			if got.Fingerprint != id.Fingerprint {
				t.Fatalf("the emulator carries %s", got.Fingerprint)
			}
		})
	}
	// The Set calls carried the key in the body and the journal shows the
	// RequestIds the client returned.
	n := 0
	for _, e := range s.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			n++
			if e.Outcome != "ok" || e.CertName != plan.CertName(id) {
				t.Errorf("journal: %+v", e)
			}
		}
	}
	if n != len(calls) {
		t.Fatalf("%d Set calls journaled", n)
	}
}

// TestStagingTarget: a VOD target marked staging sends Env=staging, which
// the emulator installs on staging only; VOD's is the only Set API whose
// current reference documents Env.
func TestStagingTarget(t *testing.T) {
	s := cloudsimtest.Start(t, simConfig())
	c := newClient(t, cloud.Options{Getenv: env(s)})
	b := testBundle(t, "vod."+testDomain)
	call := planFor(t, b, manifest.Target{Product: vod.Name, Domain: "vod." + testDomain, Region: vod.RegionShanghai, Staging: true})["vod vod."+testDomain]
	if _, err := set(context.Background(), c, call); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Staging(cloudsim.ProductVOD, "vod."+testDomain); !ok || got.Fingerprint != b.Identity().Fingerprint {
		t.Fatalf("staging: %+v", got)
	}
	if got, _ := s.Installed(cloudsim.ProductVOD, "vod."+testDomain); got.CertName != "" {
		t.Fatalf("production carries %q after a staging Set", got.CertName)
	}
}

// errorCase is one way a call can fail.
type errorCase struct {
	name      string
	cfg       func(*cloudsim.Config)
	opts      func(*cloud.Options, *cloudsim.Sim)
	target    manifest.Target
	describe  bool
	ctx       func() (context.Context, context.CancelFunc)
	code      string
	status    int
	class     failure.Class
	hint      string // substring
	retryMin  time.Duration
	retryMax  time.Duration
	is        error
	netErr    bool
	noRequest bool // no RequestId expected
}

func TestErrorClasses(t *testing.T) {
	www := manifest.Target{Product: cdn.Name, Domain: "www." + testDomain}
	script := func(sc ...cloudsim.Script) func(*cloudsim.Config) {
		return func(c *cloudsim.Config) { c.Faults.Scripted = sc }
	}
	creds := func(id, secret, token string) func(*cloud.Options, *cloudsim.Sim) {
		return func(o *cloud.Options, _ *cloudsim.Sim) {
			o.Credentials = &credchain.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}
		}
	}
	tests := []errorCase{
		{name: "offline domain", target: manifest.Target{Product: cdn.Name, Domain: "old." + testDomain},
			code: "InvalidDomain.Offline", status: 400, class: failure.Permanent, hint: "offline"},
		{name: "unknown domain", target: manifest.Target{Product: vod.Name, Domain: "nope." + testDomain},
			code: "InvalidDomain.NotFound", status: 404, class: failure.Permanent, hint: "not in this account"},
		{name: "safe mode", target: manifest.Target{Product: cdn.Name, Domain: "safe." + testDomain},
			code: "DomainInSafeMode", status: 400, class: failure.Permanent, hint: "safe mode"},
		{name: "duplicate name", target: www, cfg: script(cloudsim.Script{Domain: "www." + testDomain, Code: "Certificate.Duplicated"}),
			code: "Certificate.Duplicated", status: 400, class: failure.Permanent, hint: "fingerprint"},
		{name: "unknown code keeps the API's message", target: www,
			cfg:  script(cloudsim.Script{Domain: "www." + testDomain, Code: "Brand.NewCode", Message: "something new happened"}),
			code: "Brand.NewCode", status: 400, class: failure.Permanent},
		{name: "quota", target: www, describe: true,
			cfg: func(c *cloudsim.Config) {
				c.Quotas = map[string]float64{"DescribeDomainCertificateInfo": 0.1}
			},
			code: "Throttling.User", status: 400, class: failure.Throttled, retryMin: time.Second, retryMax: 10 * time.Second},
		{name: "HTTP 429 Rejected.Throttling, hint from the captured header", target: www,
			cfg:  script(cloudsim.Script{Domain: "www." + testDomain, Code: "Rejected.Throttling", Status: 429}),
			code: "Rejected.Throttling", status: 429, class: failure.Throttled, retryMin: 500 * time.Millisecond, retryMax: 500 * time.Millisecond},
		{name: "503", target: www, cfg: script(cloudsim.Script{Domain: "www." + testDomain, Code: "ServiceUnavailable"}),
			code: "ServiceUnavailable", status: 503, class: failure.Transient},
		{name: "500", target: www, cfg: script(cloudsim.Script{Domain: "www." + testDomain, Code: "InternalError"}),
			code: "InternalError", status: 500, class: failure.Transient},
		{name: "domain being configured", target: manifest.Target{Product: cdn.Name, Domain: "busy." + testDomain},
			code: "ServiceBusy", status: 503, class: failure.Transient},
		{name: "certificate storage", target: www, cfg: script(cloudsim.Script{Domain: "www." + testDomain, Code: "CertStorage.failed"}),
			code: "CertStorage.failed", status: 400, class: failure.Transient},
		{name: "connection reset", target: www, cfg: script(cloudsim.Script{Domain: "www." + testDomain, Fault: "reset"}),
			class: failure.Transient, netErr: true, noRequest: true},
		{name: "answer slower than the read timeout", target: www,
			cfg:   script(cloudsim.Script{Domain: "www." + testDomain, Fault: "slow"}),
			opts:  func(o *cloud.Options, _ *cloudsim.Sim) { o.ReadTimeout = 300 * time.Millisecond },
			class: failure.Transient, netErr: true, noRequest: true},
		{name: "the gateway no longer takes the deprecated legacy action",
			target: manifest.Target{Product: cdn.LegacyName, Domain: "www." + testDomain},
			cfg:    script(cloudsim.Script{Domain: "www." + testDomain, API: "SetDomainServerCertificate", Code: "InvalidAction.NotFound"}),
			code:   "InvalidAction.NotFound", status: 404, class: failure.Permanent, hint: "deprecated and the gateway no longer takes it: move the target to product: cdn"},
		{name: "an unknown action elsewhere points at the endpoint", target: www,
			cfg:  script(cloudsim.Script{Domain: "www." + testDomain, API: "SetCdnDomainSSLCertificate", Code: "InvalidAction.NotFound"}),
			code: "InvalidAction.NotFound", status: 404, class: failure.Permanent, hint: "CERTDROP_*_ENDPOINT"},
		{name: "wrong secret", target: www, opts: creds(testAK, "wrong-secret", ""),
			code: "SignatureDoesNotMatch", status: 400, class: failure.Auth},
		{name: "unknown AccessKey", target: www, opts: creds("nobody", testSK, ""),
			code: "InvalidAccessKeyId.NotFound", status: 404, class: failure.Auth},
		{name: "expired token", target: www, opts: creds("expired", testSK, testToken),
			code: "InvalidSecurityToken.Expired", status: 400, class: failure.Auth},
		{name: "RAM denies the action", target: www, opts: creds("readonly", testSK, ""),
			code: "Forbidden.RAM", status: 403, class: failure.Forbidden},
		{name: "canceled before the call", target: www,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			class: failure.Transient, is: context.Canceled, noRequest: true},
		{name: "canceled during the call", target: www,
			cfg: func(c *cloudsim.Config) { c.Faults.Latency = cloudsim.Latency{Median: 5 * time.Second} },
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				return ctx, cancel
			},
			class: failure.Transient, is: context.Canceled, noRequest: true},
		{name: "deadline during the call", target: www,
			cfg: func(c *cloudsim.Config) { c.Faults.Latency = cloudsim.Latency{Median: 5 * time.Second} },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			class: failure.Transient, is: context.DeadlineExceeded, noRequest: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := simConfig()
			cfg.Faults.SlowDelay = time.Minute
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s := cloudsimtest.Start(t, cfg)
			o := cloud.Options{Getenv: env(s)}
			if tt.opts != nil {
				tt.opts(&o, s)
			}
			c := newClient(t, o)
			b := testBundle(t, tt.target.Domain)
			call := planFor(t, b, tt.target)[string(tt.target.Product)+" "+tt.target.Domain]
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			var err error
			if tt.describe {
				_, _ = describe(ctx, c, call) // the first is admitted; the second is judged
				_, err = describe(ctx, c, call)
			} else {
				_, err = set(ctx, c, call)
			}
			var e *cloud.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not a *cloud.Error", err, err)
			}
			var ce failure.ClassifiedError
			if !errors.As(err, &ce) || ce.Class() != tt.class {
				t.Fatalf("class %v, want %v: %v", e.Class(), tt.class, err)
			}
			if e.Code != tt.code || e.HTTPStatus != tt.status {
				t.Fatalf("code %q HTTP %d, want %q HTTP %d: %v", e.Code, e.HTTPStatus, tt.code, tt.status, err)
			}
			if (e.RequestID == "") != tt.noRequest || e.APIRequestID() != e.RequestID {
				t.Fatalf("RequestId %q: %v", e.RequestID, err)
			}
			if e.RequestID != "" && !strings.Contains(err.Error(), e.RequestID) {
				t.Fatalf("the message lacks the RequestId: %v", err)
			}
			if tt.code != "" && !strings.Contains(err.Error(), tt.code) {
				t.Fatalf("the message lacks the code: %v", err)
			}
			if !strings.Contains(e.Hint, tt.hint) {
				t.Fatalf("hint %q, want it to mention %q", e.Hint, tt.hint)
			}
			if r := e.RetryAfter(); r < tt.retryMin || (tt.retryMax > 0 && r > tt.retryMax) {
				t.Fatalf("RetryAfter %v, want [%v, %v]", r, tt.retryMin, tt.retryMax)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("errors.Is(%v) is false for %v", tt.is, err)
			}
			var ne net.Error
			if tt.netErr && !errors.As(err, &ne) {
				t.Fatalf("not a net.Error: %v", err)
			}
			if tt.code == "Brand.NewCode" && !strings.Contains(err.Error(), "something new happened") {
				t.Fatalf("the API's own message is lost: %v", err)
			}
		})
	}
}

// TestErrorsNeverEchoSecrets makes the emulator echo the private key, the
// secret and the token in its error messages, as a server quoting the
// request might; the client must scrub them. (TestMain then checks every
// error and log line of the package's tests.)
func TestErrorsNeverEchoSecrets(t *testing.T) {
	b := testBundle(t, "www."+testDomain)
	key := b.KeyPEM().Reveal()
	keyLines := strings.Split(strings.TrimSpace(key), "\n")
	echoes := []string{
		"bad SSLPri: " + key,
		"bad SSLPri line: " + keyLines[2],
		"secret was " + testSTSSK + " token was " + testToken,
		"truncated key: " + key[:len(key)/2],
	}
	cfg := simConfig()
	for i, msg := range echoes {
		cfg.Faults.Scripted = append(cfg.Faults.Scripted, cloudsim.Script{Domain: "www." + testDomain, Code: "InvalidSSLPri", Message: msg, After: i, Times: 1})
	}
	s := cloudsimtest.Start(t, cfg)
	c := newClient(t, cloud.Options{Getenv: env(s), Credentials: &credchain.Credentials{AccessKeyID: testSTSAK, AccessKeySecret: testSTSSK, SecurityToken: testToken}})
	call := planFor(t, b, manifest.Target{Product: cdn.Name, Domain: "www." + testDomain})["cdn www."+testDomain]
	for i := range echoes {
		_, err := set(context.Background(), c, call)
		var e *cloud.Error
		if !errors.As(err, &e) || e.Code != "InvalidSSLPri" {
			t.Fatalf("echo %d: %v", i, err)
		}
		for _, secret := range []string{key, keyLines[2], testSTSSK, testToken, "PRIVATE KEY-----"} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("echo %d: the error holds a secret of %d bytes", i, len(secret))
			}
		}
		if !strings.Contains(err.Error(), bundle.Redacted) {
			t.Fatalf("echo %d: nothing was redacted: %v", i, err)
		}
	}
	for _, v := range []any{credchain.Credentials{AccessKeyID: "a", AccessKeySecret: testSK, SecurityToken: testToken}, call} {
		for _, verb := range []string{"%v", "%+v", "%s"} {
			leaks.Seen(errors.New(fmt.Sprintf(verb, v)))
		}
	}
}

func TestHTTPSEndpointAndConnectionReuse(t *testing.T) {
	sim := cloudsimtest.Start(t, simConfig())
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(sim.Handler())
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	https := srv.URL // https://127.0.0.1:port
	c := newClient(t, cloud.Options{Getenv: env(nil, cdn.EnvEndpoint, https), RootCAs: roots})
	b := testBundle(t, "www."+testDomain)
	call := planFor(t, b, manifest.Target{Product: cdn.Name, Domain: "www." + testDomain})["cdn www."+testDomain]
	if _, err := set(context.Background(), c, call); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := describe(context.Background(), c, call); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("11 sequential calls opened %d connections, want 1", n)
	}
	// Trusting another CA, the client refuses the server's certificate.
	otherRoot, err := cloudsim.NewRootCA("other", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	others := x509.NewCertPool()
	others.AddCert(otherRoot.Cert)
	strict := newClient(t, cloud.Options{Getenv: env(nil, cdn.EnvEndpoint, https), RootCAs: others})
	_, err = set(context.Background(), strict, call)
	var e *cloud.Error
	if !errors.As(err, &e) || e.Class() != failure.Permanent || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted server: %v", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	cfg := simConfig()
	cfg.Domains.CDN = nil
	var targets []manifest.Target
	for i := 0; i < 40; i++ {
		d := "d" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "." + testDomain
		cfg.Domains.CDN = append(cfg.Domains.CDN, cloudsim.Domain{Name: d})
		targets = append(targets, manifest.Target{Product: cdn.Name, Domain: d})
	}
	cfg.Quotas = map[string]float64{"SetCdnDomainSSLCertificate": -1, "DescribeDomainCertificateInfo": -1}
	s := cloudsimtest.Start(t, cfg)
	c := newClient(t, cloud.Options{Getenv: env(s)})
	b := testBundle(t, "*."+testDomain)
	calls := planFor(t, b, targets...)
	var wg sync.WaitGroup
	errs := make(chan error, len(calls))
	for _, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := set(context.Background(), c, call); err != nil {
				errs <- err
				return
			}
			inst, err := describe(context.Background(), c, call)
			if err == nil && inst.Fingerprint != b.Identity().Fingerprint {
				err = errors.New("describe shows " + inst.Fingerprint)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkSetThroughEmulator measures one Set call through the SDK, the
// loopback HTTP connection and the emulator's signature check and
// certificate validation, with calls in parallel as the fan-out makes them.
func BenchmarkSetThroughEmulator(b *testing.B) {
	cfg := simConfig()
	cfg.Quotas = map[string]float64{"SetCdnDomainSSLCertificate": -1}
	s := cloudsimtest.Start(b, cfg)
	c, err := all.Products().NewClient(cloud.Options{Getenv: env(s)})
	if err != nil {
		b.Fatal(err)
	}
	bd := testBundle(b, "www."+testDomain)
	call := planFor(b, bd, manifest.Target{Product: cdn.Name, Domain: "www." + testDomain})["cdn www."+testDomain]
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Set(context.Background(), call, product.Once{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestParamsPlacement sends a Set (certificate and key), a Describe and a
// CAS upload through the emulator with the parameters in a form body (the
// default) and in the query string (CERTDROP_OPENAPI_PARAMS=query, the
// SDKs' way): the emulator verifies the ACS3 signature either way, the
// journal shows where they travelled, and a wrong secret is refused in
// both.
func TestParamsPlacement(t *testing.T) {
	for _, mode := range []string{"", cloud.ParamsInBody, cloud.ParamsInQuery} {
		want := mode
		if want == "" {
			want = cloud.ParamsInBody
		}
		t.Run("mode="+mode, func(t *testing.T) {
			s := cloudsimtest.Start(t, simConfig())
			getenv := env(s, cloud.EnvOpenAPIParams, mode, cloud.EnvCASEndpoint, s.Endpoints().OpenAPI)
			c := newClient(t, cloud.Options{Getenv: getenv})
			b := testBundle(t, "www."+testDomain)
			call := planFor(t, b, manifest.Target{Product: cdn.Name, Domain: "www." + testDomain})["cdn www."+testDomain]
			ctx := context.Background()
			if _, err := set(ctx, c, call); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if inst, err := describe(ctx, c, call); err != nil || inst.Fingerprint != b.Identity().Fingerprint {
				t.Fatalf("Describe: %+v %v", inst, err)
			}
			if _, _, err := c.UploadCAS(ctx, manifest.CASRegionMainland, "certdrop-placement", b.CertPEM(), b.KeyPEM()); err != nil {
				t.Fatalf("UploadCAS: %v", err)
			}
			n := 0
			for _, e := range s.Journal().Entries() {
				if e.Service == "oss" {
					continue
				}
				n++
				if e.ParamsIn != want {
					t.Errorf("%s sent its parameters in %q; want %q", e.API, e.ParamsIn, want)
				}
			}
			if n != 3 {
				t.Errorf("%d OpenAPI calls journaled; want 3", n)
			}
			bad := newClient(t, cloud.Options{Getenv: env(s, cloud.EnvOpenAPIParams, mode, "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong-secret")})
			_, err := set(ctx, bad, call)
			if e := (*cloud.Error)(nil); !errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" {
				t.Errorf("a wrong secret with parameters in the %s: %v; want SignatureDoesNotMatch", want, err)
			}
		})
	}
	if _, err := cloud.New(cloud.Options{Getenv: env(nil, cloud.EnvOpenAPIParams, "url")}); err == nil || !strings.Contains(err.Error(), cloud.EnvOpenAPIParams) {
		t.Errorf("CERTDROP_OPENAPI_PARAMS=url: %v; want refused, naming the variable", err)
	}
}
