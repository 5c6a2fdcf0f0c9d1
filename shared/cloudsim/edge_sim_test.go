package cloudsim

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/probe"
)

// probeEdge probes name through the Sim's edge and returns its verdict
// against want (and prev as the earlier certificate).
func probeEdge(t *testing.T, s *Sim, name string, want, prev testPair) probe.Result {
	t.Helper()
	p, err := probe.New(probe.Options{Rate: math.Inf(1), Dial: s.Endpoints().Edge, HandshakeTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req := probe.Request{Name: name, Expected: fingerprintPEM(t, want)}
	if prev.cert != "" {
		req.Previous = []string{fingerprintPEM(t, prev)}
	}
	res, err := p.Probe(t.Context(), []probe.Request{req})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// TestSimEdgeServesWhatSetSets: the Sim's edge serves each domain what the
// products' Set operations installed in production (by upload or by
// reference to CAS), after the configured delay; staging is not served;
// HTTPS off serves nothing; an OSS custom domain serves what PutCname
// set. Its address is the environment's CERTDROP_PROBE_DIAL.
func TestSimEdgeServesWhatSetSets(t *testing.T) {
	const delay = 400 * time.Millisecond
	cfg := casConfig()
	cfg.OSS = OSSSettings{Buckets: []string{"site"}}
	cfg.Edge.Delay = delay
	s := startSim(t, cfg)
	if !slices.Contains(s.Env(), config.ProbeDial+"="+s.Endpoints().Edge) || s.Endpoints().Edge == "" {
		t.Fatalf("the environment does not name the edge: %v", s.Env())
	}
	api := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	set := func(action string, form map[string]string) {
		t.Helper()
		if _, err := api.call(ctx, action, form); err != nil {
			code, _ := codeOf(err)
			t.Fatalf("%s: %s", action, code)
		}
	}
	var none testPair
	old := validPair(t, "www.example.test")
	cur := validPair(t, "www.example.test")

	if r := probeEdge(t, s, "www.example.test", old, none); r.Verdict != probe.Unreachable {
		t.Fatalf("before any Set: %s, want unreachable (the edge hosts no certificate for it)", r.Verdict)
	}
	set("SetCdnDomainSSLCertificate", setForm("www.example.test", "old", old))
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "www.example.test", old, none); r.Verdict != probe.Serving {
		t.Fatalf("after the delay: %s (%s), want serving", r.Verdict, r.Reason)
	}
	set("SetCdnDomainSSLCertificate", setForm("www.example.test", "cur", cur))
	if r := probeEdge(t, s, "www.example.test", cur, old); r.Verdict != probe.Stale {
		t.Fatalf("right after the second Set: %s, want stale", r.Verdict)
	}
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "www.example.test", cur, old); r.Verdict != probe.Serving {
		t.Fatalf("after the delay: %s, want serving", r.Verdict)
	}

	// Staging is not what the edge serves.
	vod := validPair(t, "vod.example.test")
	stagingForm := setForm("vod.example.test", "vod-staging", vod)
	stagingForm["Env"] = "staging"
	set("SetVodDomainSSLCertificate", stagingForm)
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "vod.example.test", vod, none); r.Verdict != probe.Unreachable {
		t.Errorf("a staging Set is served: %s", r.Verdict)
	}

	// HTTPS off: nothing is served after the delay.
	set("SetCdnDomainSSLCertificate", map[string]string{"DomainName": "www.example.test", "SSLProtocol": "off"})
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "www.example.test", cur, old); r.Verdict != probe.Unreachable {
		t.Errorf("HTTPS off: %s, want unreachable", r.Verdict)
	}

	// By reference to CAS, on a wildcard domain: a name under it is
	// served the referenced certificate.
	wild := validPair(t, "*.dcdn.example.test")
	id := uploadCAS(t, api, "certdrop-wild", wild)
	set("SetDcdnDomainSSLCertificate", map[string]string{"DomainName": ".dcdn.example.test", "SSLProtocol": "on",
		"CertType": "cas", "CertId": fmt.Sprint(id)})
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "a.dcdn.example.test", wild, none); r.Verdict != probe.Serving {
		t.Errorf("by reference: %s (%s), want serving", r.Verdict, r.Reason)
	}

	// An OSS custom domain, then its certificate deleted.
	site := validPair(t, "static.example.test")
	c, err := oss.New(s.Endpoints().OSS, "simAK", "simSK", oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutBucketCnameWithCertificate("site", oss.PutBucketCname{Cname: "static.example.test",
		CertificateConfiguration: &oss.CertificateConfiguration{Certificate: site.cert, PrivateKey: site.key}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "static.example.test", site, none); r.Verdict != probe.Serving {
		t.Errorf("oss custom domain: %s (%s), want serving", r.Verdict, r.Reason)
	}
	if err := c.PutBucketCnameWithCertificate("site", oss.PutBucketCname{Cname: "static.example.test",
		CertificateConfiguration: &oss.CertificateConfiguration{DeleteCertificate: true}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay + 100*time.Millisecond)
	if r := probeEdge(t, s, "static.example.test", site, none); r.Verdict != probe.Unreachable {
		t.Errorf("oss certificate deleted: %s, want unreachable", r.Verdict)
	}
}

// TestSimEdgeDisabled: edge.disabled leaves no listener and no
// CERTDROP_PROBE_DIAL.
func TestSimEdgeDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.Edge.Disabled = true
	s := startSim(t, cfg)
	if s.Endpoints().Edge != "" || strings.Contains(strings.Join(s.Env(), " "), config.ProbeDial) {
		t.Fatalf("a disabled edge shows: %q %v", s.Endpoints().Edge, s.Env())
	}
	cfg = testConfig()
	cfg.Edge.Delay = -time.Second
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "edge.delay") {
		t.Errorf("a negative delay: %v", err)
	}
}
