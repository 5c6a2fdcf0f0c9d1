package cloudsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
)

// faultConfig has ten CDN domains and every random fault switched on.
func faultConfig(seed uint64) Config {
	cfg := testConfig()
	cfg.Domains.CDN = nil
	for i := 0; i < 10; i++ {
		cfg.Domains.CDN = append(cfg.Domains.CDN, Domain{Name: fmt.Sprintf("d%d.example.test", i)})
	}
	cfg.Faults = Faults{Seed: seed, ThrottleRate: 0.15, ErrorRate: 0.15, ResetRate: 0.1, ResetAfterApplyRate: 0.15}
	cfg.Quotas = map[string]float64{"DescribeDomainCertificateInfo": -1}
	return cfg
}

// outcomes runs 5 Describe calls per domain, sequentially or one goroutine
// per domain, and returns "outcome/code" by domain and attempt.
func outcomes(t *testing.T, cfg Config, concurrent bool) map[string]string {
	s := startSim(t, cfg)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		domain := fmt.Sprintf("d%d.example.test", i)
		c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "") // an SDK client is not safe for concurrent use
		run := func() {
			defer wg.Done()
			for a := 0; a < 5; a++ {
				_, _ = c.call(context.Background(), "DescribeDomainCertificateInfo", map[string]string{"DomainName": domain})
			}
		}
		wg.Add(1)
		if concurrent {
			go run()
		} else {
			run()
		}
	}
	wg.Wait()
	got := map[string]string{}
	for _, e := range s.Journal().Entries() {
		got[fmt.Sprintf("%s#%d", e.Domain, e.Attempt)] = e.Outcome + "/" + e.Code + "/" + e.Fault
	}
	return got
}

func TestFaultsAreDeterministicWhateverTheOrder(t *testing.T) {
	seq := outcomes(t, faultConfig(7), false)
	con := outcomes(t, faultConfig(7), true)
	if len(seq) != 50 || len(con) != 50 {
		t.Fatalf("journal entries: %d sequential, %d concurrent, want 50", len(seq), len(con))
	}
	kinds := map[string]int{}
	for k, v := range seq {
		if con[k] != v {
			t.Errorf("%s: %s sequentially, %s concurrently", k, v, con[k])
		}
		kinds[v]++
	}
	for _, want := range []string{"ok//", "reset//reset", "error/Throttling.User/throttle", "ok//resetAfterApply"} {
		if kinds[want] == 0 {
			t.Errorf("no %q among %v", want, kinds)
		}
	}
	if kinds["error/ServiceUnavailable/5xx"]+kinds["error/InternalError/5xx"] == 0 {
		t.Errorf("no 5xx among %v", kinds)
	}
	other := outcomes(t, faultConfig(8), false)
	same := 0
	for k, v := range seq {
		if other[k] == v {
			same++
		}
	}
	if same == len(seq) {
		t.Errorf("seed 8 decided exactly as seed 7")
	}
}

func TestScriptedFailures(t *testing.T) {
	cfg := testConfig()
	cfg.Faults.Scripted = []Script{
		{Domain: "www.example.test", API: "SetCdnDomainSSLCertificate", Code: "ServiceBusy", Status: 503, Times: 2},
		{Domain: "vod.example.test", Code: "CertStorage.failed", After: 1},
		{Domain: "live.example.test", Fault: "reset"},
	}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test", "vod.example.test", "live.example.test")
	ctx := context.Background()
	var got []string
	for i := 0; i < 3; i++ {
		_, err := c.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "s", p))
		code, status := codeOf(err)
		got = append(got, fmt.Sprintf("%s/%d", code, status))
	}
	if want := []string{"ServiceBusy/503", "ServiceBusy/503", "/200"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cdn: %v, want %v", got, want)
	}
	got = nil
	for i := 0; i < 3; i++ {
		_, err := c.call(ctx, "SetVodDomainSSLCertificate", setForm("vod.example.test", "s", p))
		code, status := codeOf(err)
		got = append(got, fmt.Sprintf("%s/%d", code, status))
	}
	if want := []string{"/200", "CertStorage.failed/400", "/200"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("vod: %v, want %v", got, want)
	}

	_, err := c.call(ctx, "SetLiveDomainCertificate", setForm("live.example.test", "s", p))
	var ce *openapi.ClientError
	var ne net.Error
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("reset connection: %v", err)
	}
	if !errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
		t.Logf("reset surfaced as %T", err)
	}
	if inst, _ := s.Installed(ProductLive, "live.example.test"); inst.CertName != "" {
		t.Fatalf("a reset call was applied: %+v", inst)
	}
	entries := s.Journal().Entries()
	if last := entries[len(entries)-1]; last.Outcome != "reset" || last.Status != 0 || last.Fault != "reset" {
		t.Fatalf("journal of the reset: %+v", last)
	}
}

func TestSlowAnswerIsAppliedButArrivesTooLate(t *testing.T) {
	cfg := testConfig()
	cfg.Faults.SlowDelay = time.Minute
	cfg.Faults.Scripted = []Script{{Domain: "www.example.test", Fault: "slow"}}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p := validPair(t, "www.example.test")
	_, err := c.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "late", p))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow answer: %v, want the client's deadline", err)
	}
	if inst, _ := s.Installed(ProductCDN, "www.example.test"); inst.CertName != "late" {
		t.Fatalf("the slow call was not applied: %+v", inst)
	}
	if e := s.Journal().Entries()[0]; e.Fault != "slow" || e.Outcome != "ok" {
		t.Fatalf("journal: %+v", e)
	}
}

func TestLatencySample(t *testing.T) {
	l := Latency{Median: 20 * time.Millisecond, P99: 200 * time.Millisecond}
	if got := l.sample(0); got != l.Median {
		t.Errorf("z=0: %v, want the median", got)
	}
	if got := l.sample(2.326348); math.Abs(float64(got-l.P99)) > float64(time.Millisecond) {
		t.Errorf("z=2.33: %v, want the p99", got)
	}
	if got := l.sample(-3); got <= 0 || got >= l.Median {
		t.Errorf("z=-3: %v", got)
	}
	if got := (Latency{}).sample(1); got != 0 {
		t.Errorf("no latency configured: %v", got)
	}
}

// TestResetAfterApply: a call reset after it was applied changes the
// state, answers nothing (the client sees a network error, not an API
// error), and the journal says it was applied and not answered.
func TestResetAfterApply(t *testing.T) {
	cfg := testConfig()
	cfg.Faults.Scripted = []Script{{Domain: "www.example.test", API: "SetCdnDomainSSLCertificate", Fault: "resetAfterApply"}}
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	p := validPair(t, "www.example.test")
	ctx := context.Background()
	_, err := c.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "applied", p))
	var ce *openapi.ClientError
	var se *openapi.ServerError
	if err == nil || errors.As(err, &ce) || errors.As(err, &se) {
		t.Fatalf("reset after apply: %v, want a network error", err)
	}
	if inst, _ := s.Installed(ProductCDN, "www.example.test"); inst.CertName != "applied" {
		t.Fatalf("the call was not applied: %+v", inst)
	}
	e := s.Journal().Entries()[0]
	if e.Outcome != "ok" || e.Status != 0 || e.Fault != "resetAfterApply" || e.Code != "" {
		t.Fatalf("journal: %+v", e)
	}
	// The next call is answered, and sees the state the lost one left.
	if _, err := c.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "again", p)); err != nil {
		t.Fatalf("the second call: %v", err)
	}
}

// TestResetAfterApplyValidation: the rate and the scripted kind are
// checked like the others.
func TestResetAfterApplyValidation(t *testing.T) {
	for _, f := range []Faults{
		{ResetAfterApplyRate: 1.5},
		{ResetAfterApplyRate: -0.1},
		{Scripted: []Script{{Domain: "a.example.test", Fault: "resetAfter"}}},
	} {
		if err := f.validate(); err == nil {
			t.Errorf("%+v: accepted", f)
		}
	}
	if err := (&Faults{ResetAfterApplyRate: 1, Scripted: []Script{{Domain: "*", Fault: "resetAfterApply"}}}).validate(); err != nil {
		t.Errorf("valid faults refused: %v", err)
	}
}
