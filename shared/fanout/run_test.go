package fanout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// fakeErr is a classified API error for tests.
type fakeErr struct {
	class failure.Class
	code  string
	hint  time.Duration
}

func (e *fakeErr) Error() string             { return e.code }
func (e *fakeErr) Class() failure.Class      { return e.class }
func (e *fakeErr) RetryAfter() time.Duration { return e.hint }
func (e *fakeErr) APIRequestID() string      { return "req-" + e.code }

var (
	errThrottled = &fakeErr{class: failure.Throttled, code: "Throttling.User"}
	errBusy      = &fakeErr{class: failure.Transient, code: "ServiceBusy"}
	errOffline   = &fakeErr{class: failure.Permanent, code: "InvalidDomain.Offline"}
	errAuth      = &fakeErr{class: failure.Auth, code: "InvalidAccessKeyId.NotFound"}
)

// fakeClient answers from per-domain scripts and records every call.
type fakeClient struct {
	mu        sync.Mutex
	installed map[string]Installed
	setErrs   map[string][]error // consumed in order, then success
	descErrs  map[string][]error
	sets      map[string]int
	describes int
	// ignoreSet leaves Describe showing the old state after a Set.
	ignoreSet bool
	// setAlways and descAlways answer every call for a domain with an error.
	setAlways, descAlways map[string]error
	// panics names domains whose Set (or Describe, with "describe:") panics.
	panics    map[string]bool
	setsByAPI map[string]int
	descByAPI map[string]int
}

func newFake() *fakeClient {
	return &fakeClient{installed: map[string]Installed{}, setErrs: map[string][]error{},
		descErrs: map[string][]error{}, sets: map[string]int{}, setAlways: map[string]error{},
		descAlways: map[string]error{}, panics: map[string]bool{}, setsByAPI: map[string]int{}, descByAPI: map[string]int{}}
}

// Set makes the call's one Set through calls.
func (f *fakeClient) Set(ctx context.Context, c plan.Call, calls Caller) error {
	return calls.Call(ctx, c.API, func() (string, error) { return f.set(c) })
}

// Describe makes the call's one Describe through calls.
func (f *fakeClient) Describe(ctx context.Context, c plan.Call, calls Caller) (Installed, error) {
	var in Installed
	err := calls.Call(ctx, describeAPI(c), func() (string, error) {
		var err error
		in, err = f.describe(c)
		return in.RequestID, err
	})
	return in, err
}

// set answers one Set call.
func (f *fakeClient) set(c plan.Call) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets[c.DomainName]++
	f.setsByAPI[c.API.Action]++
	if f.panics[c.DomainName] {
		panic("the SDK blew up")
	}
	if err := f.setAlways[c.DomainName]; err != nil {
		return "", err
	}
	if errs := f.setErrs[c.DomainName]; len(errs) > 0 {
		f.setErrs[c.DomainName] = errs[1:]
		return "", errs[0]
	}
	if !f.ignoreSet {
		f.installed[c.DomainName] = Installed{CertName: c.Param("CertName"), HTTPS: true}
	}
	return fmt.Sprintf("set-%s-%d", c.DomainName, f.sets[c.DomainName]), nil
}

// describe answers one Describe call.
func (f *fakeClient) describe(c plan.Call) (Installed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	f.descByAPI[describeAPI(c).Action]++
	if f.panics["describe:"+c.DomainName] {
		panic(fmt.Errorf("describe of %s blew up", c.DomainName))
	}
	if err := f.descAlways[c.DomainName]; err != nil {
		return Installed{}, err
	}
	if errs := f.descErrs[c.DomainName]; len(errs) > 0 {
		f.descErrs[c.DomainName] = errs[1:]
		return Installed{}, errs[0]
	}
	in := f.installed[c.DomainName]
	in.RequestID = "desc-" + c.DomainName
	return in, nil
}

func (f *fakeClient) totalSets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.sets {
		n += v
	}
	return n
}

var (
	notAfter  = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	notBefore = notAfter.AddDate(0, -3, 0)
)

// TestAPIs are the Set and Describe APIs of the products the tests name,
// as their packages declare them (TestAPIsAreTheProducts checks them).
var TestAPIs = map[manifest.Product][2]plan.API{
	"cdn": {
		{Service: "cdn", Action: "SetCdnDomainSSLCertificate", Version: "2018-05-10", Quota: 30},
		{Service: "cdn", Action: "DescribeDomainCertificateInfo", Version: "2018-05-10", Quota: 100},
	},
	"vod": {
		{Service: "vod", Action: "SetVodDomainSSLCertificate", Version: "2017-03-21", Quota: 30},
		{Service: "vod", Action: "DescribeVodDomainCertificateInfo", Version: "2017-03-21", Quota: 30},
	},
}

// describeAPI is the Describe API of a call's product.
func describeAPI(c plan.Call) plan.API { return TestAPIs[c.Target.Product][1] }

// testPlan builds a plan of n CDN calls without a real bundle.
func testPlan(n int) *plan.Plan {
	p := &plan.Plan{Bundle: bundle.Identity{Fingerprint: "ab12cd34ef", NotBefore: notBefore, NotAfter: notAfter, CommonName: "example.com"}}
	p.CertName = plan.CertName(bundle.Identity{Fingerprint: "ab12cd34ef56", NotAfter: notAfter, CommonName: "example.com"})
	addCalls(p, manifest.Product("cdn"), "d", n)
	return p
}

// addCalls appends n calls of product to p, on the domains
// <prefix>00.example.com, <prefix>01.example.com, ...
func addCalls(p *plan.Plan, product manifest.Product, prefix string, n int) {
	for i := range n {
		d := fmt.Sprintf("%s%02d.example.com", prefix, i)
		p.Calls = append(p.Calls, plan.Call{
			Target:     manifest.Target{Product: product, Domain: d},
			API:        TestAPIs[product][0],
			DomainName: d,
			Params:     []plan.Param{{Name: "DomainName", Value: d}, {Name: "CertName", Value: p.CertName}},
		})
	}
}

// serial makes runs deterministic: one worker per API, no real pacing.
func serial(o Options) Options {
	o.Quotas = map[string]float64{"SetCdnDomainSSLCertificate": 1000, "DescribeDomainCertificateInfo": 1000}
	o.LatencyP99 = time.Millisecond
	o.BaseDelay = time.Millisecond
	o.MaxDelay = 2 * time.Millisecond
	return o
}

func states(rs []Result) []State {
	s := make([]State, len(rs))
	for i, r := range rs {
		s[i] = r.State
	}
	return s
}

func TestRun(t *testing.T) {
	d := func(i int) string { return fmt.Sprintf("d%02d.example.com", i) }
	tests := []struct {
		name      string
		n         int
		opts      Options
		setup     func(f *fakeClient, p *plan.Plan)
		want      []State
		wantSets  int
		wantAttem []int
		wantThr   []int
		wantCode  map[int]string // index → error code or stop code found in the error
	}{
		{
			name: "all deployed", n: 3,
			want: []State{Deployed, Deployed, Deployed}, wantSets: 3, wantAttem: []int{1, 1, 1},
		},
		{
			name: "unchanged by CertName, by fingerprint; HTTPS off is not unchanged", n: 3,
			setup: func(f *fakeClient, p *plan.Plan) {
				f.installed[d(0)] = Installed{CertName: p.CertName, HTTPS: true}
				f.installed[d(1)] = Installed{CertName: "other", Fingerprint: p.Bundle.Fingerprint, HTTPS: true}
				f.installed[d(2)] = Installed{CertName: p.CertName, HTTPS: false}
			},
			want: []State{Unchanged, Unchanged, Deployed}, wantSets: 1,
		},
		{
			name: "never downgrades", n: 2,
			setup: func(f *fakeClient, p *plan.Plan) {
				f.installed[d(0)] = Installed{CertName: "newer", NotAfter: notAfter.AddDate(0, 1, 0), HTTPS: true}
				f.installed[d(1)] = Installed{CertName: "older", NotAfter: notAfter.AddDate(0, -1, 0), HTTPS: true}
			},
			want: []State{SkippedNewer, Deployed}, wantSets: 1,
		},
		{
			name: "force sets over newer and same", n: 2, opts: Options{Force: true},
			setup: func(f *fakeClient, p *plan.Plan) {
				f.installed[d(0)] = Installed{CertName: "newer", NotAfter: notAfter.AddDate(0, 1, 0), HTTPS: true}
				f.installed[d(1)] = Installed{CertName: p.CertName, HTTPS: true}
			},
			want: []State{Deployed, Deployed}, wantSets: 2,
		},
		{
			name: "throttled and busy are retried", n: 2,
			setup: func(f *fakeClient, p *plan.Plan) {
				f.setErrs[d(0)] = []error{errThrottled, errThrottled}
				f.setErrs[d(1)] = []error{errBusy}
			},
			want: []State{Deployed, Deployed}, wantSets: 5, wantAttem: []int{3, 2}, wantThr: []int{2, 0},
		},
		{
			name: "retries run out", n: 1, opts: Options{MaxAttempts: 4},
			setup: func(f *fakeClient, p *plan.Plan) {
				f.setErrs[d(0)] = []error{errBusy, errBusy, errBusy, errBusy, errBusy}
			},
			want: []State{Failed}, wantSets: 4, wantAttem: []int{4},
			wantCode: map[int]string{0: "ServiceBusy"},
		},
		{
			name: "throttling has its own budget", n: 2, opts: Options{MaxAttempts: 2, MaxThrottled: 5},
			setup: func(f *fakeClient, p *plan.Plan) {
				f.setErrs[d(0)] = []error{errThrottled, errThrottled, errThrottled, errThrottled, errBusy}
				f.setErrs[d(1)] = []error{errThrottled, errThrottled, errThrottled, errThrottled, errThrottled, errThrottled}
			},
			want: []State{Deployed, Failed}, wantSets: 11, wantAttem: []int{6, 5}, wantThr: []int{4, 5},
			wantCode: map[int]string{1: "Throttling"},
		},
		{
			name: "a permanent error fails one target only", n: 3,
			setup: func(f *fakeClient, p *plan.Plan) { f.setErrs[d(1)] = []error{errOffline} },
			want:  []State{Deployed, Failed, Deployed}, wantSets: 3, wantAttem: []int{1, 1, 1},
			wantCode: map[int]string{1: "InvalidDomain.Offline"},
		},
		{
			name: "an auth error stops the run", n: 4,
			setup: func(f *fakeClient, p *plan.Plan) { f.setErrs[d(1)] = []error{errAuth} },
			want:  []State{Deployed, Failed, NotStarted, NotStarted}, wantSets: 2,
			wantCode: map[int]string{1: "InvalidAccessKeyId", 2: "credentials were refused", 3: "credentials were refused"},
		},
		{
			name: "a busy describe is retried; a permanent describe failure fails the target unset", n: 2,
			setup: func(f *fakeClient, p *plan.Plan) {
				f.installed[d(0)] = Installed{CertName: p.CertName, HTTPS: true}
				f.descErrs[d(0)] = []error{errBusy, errBusy, errBusy}
				f.descErrs[d(1)] = []error{errOffline}
			},
			want: []State{Unchanged, Failed}, wantSets: 0, wantCode: map[int]string{1: "InvalidDomain.Offline"},
		},
		{
			name: "dry run sets nothing", n: 3, opts: Options{DryRun: true},
			setup: func(f *fakeClient, p *plan.Plan) {
				f.installed[d(0)] = Installed{CertName: p.CertName, HTTPS: true}
			},
			want: []State{Unchanged, Planned, Planned}, wantSets: 0,
		},
		{
			name: "deadline passed: nothing starts", n: 3, opts: Options{StopAt: time.Now().Add(-time.Second)},
			want: []State{NotStarted, NotStarted, NotStarted}, wantSets: 0,
			wantCode: map[int]string{0: "deadline", 1: "deadline", 2: "deadline"},
		},
		{
			name: "canary failure stops the rest", n: 4, opts: Options{Canary: 2},
			setup: func(f *fakeClient, p *plan.Plan) { f.setErrs[d(1)] = []error{errOffline} },
			want:  []State{Deployed, Failed, NotStarted, NotStarted}, wantSets: 2,
			wantCode: map[int]string{1: "InvalidDomain.Offline", 2: "canary", 3: "canary"},
		},
		{
			name: "verify catches a set that did not take", n: 1, opts: Options{Verify: true},
			setup: func(f *fakeClient, p *plan.Plan) { f.ignoreSet = true },
			want:  []State{Failed}, wantSets: 1,
			wantCode: map[int]string{0: "still shows"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan(tt.n)
			f := newFake()
			if tt.setup != nil {
				tt.setup(f, p)
			}
			res := Run(context.Background(), f, p, serial(tt.opts))
			if got := states(res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("states = %v, want %v", got, tt.want)
			}
			if got := f.totalSets(); got != tt.wantSets {
				t.Errorf("Set calls = %d, want %d", got, tt.wantSets)
			}
			for i, a := range tt.wantAttem {
				if res[i].Attempts != a {
					t.Errorf("target %d attempts = %d, want %d", i, res[i].Attempts, a)
				}
			}
			for i, n := range tt.wantThr {
				if res[i].Throttled != n {
					t.Errorf("target %d throttled = %d, want %d", i, res[i].Throttled, n)
				}
			}
			for i, r := range res {
				code, want := tt.wantCode[i]
				switch {
				case want && (r.Err == nil || !containsFold(r.Err.Error(), code)):
					t.Errorf("target %d error = %v, want it to mention %q", i, r.Err, code)
				case !want && r.Err != nil:
					t.Errorf("target %d unexpected error %v", i, r.Err)
				case r.State == Deployed && len(r.RequestIDs) == 0:
					t.Errorf("target %d deployed without a RequestId", i)
				}
			}
		})
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func TestRetryAt(t *testing.T) {
	r := &run{opts: Options{}}
	for try := 1; try <= 10; try++ {
		ceil := min(DefaultMaxDelay, DefaultBaseDelay<<(try-1))
		for range 200 {
			if d := r.opts.backoff(try); d < 0 || d > ceil {
				t.Fatalf("try %d: delay %v outside [0, %v]", try, d, ceil)
			}
		}
	}
	sent := time.Now().Add(-100 * time.Millisecond)
	// A throttled call without a hint is retried as soon as the pacer allows.
	if at := r.retryAt(failure.Throttled, 3, 0, sent); !at.IsZero() {
		t.Errorf("throttled without a hint: due %v, want at once", at)
	}
	// With a hint: exactly the hint after the throttled call was sent, no jitter.
	if at := r.retryAt(failure.Throttled, 5, 3*time.Second, sent); !at.Equal(sent.Add(3 * time.Second)) {
		t.Errorf("a hint of 3s gave %v after sending, want 3s", at.Sub(sent))
	}
	if at := r.retryAt(failure.Throttled, 1, time.Hour, sent); !at.Equal(sent.Add(DefaultMaxDelay)) {
		t.Errorf("a huge hint gave %v, want the cap %v", at.Sub(sent), DefaultMaxDelay)
	}
	// Transient failures back off.
	if at := r.retryAt(failure.Transient, 1, 0, sent); at.IsZero() || time.Until(at) > DefaultBaseDelay {
		t.Errorf("transient: due in %v, want within [0, %v]", time.Until(at), DefaultBaseDelay)
	}
}

func TestPacerAIMD(t *testing.T) {
	p := newPacer(30)
	q := p.quota
	if math.Abs(q-30*paceHeadroom) > 1e-9 {
		t.Fatalf("pace %v, want %v below the quota of 30", q, 30*paceHeadroom)
	}
	t0 := time.Unix(0, 0)
	window := func(start time.Time, calls, throttled int) {
		for i := range calls {
			p.observe(start.Add(time.Duration(i)*time.Millisecond), i < throttled)
		}
	}
	// Each window's first call closes the window before it, and counts
	// there. One window with 8 of 11 calls throttled is noise: the pace
	// holds.
	window(t0, 10, 7)
	window(t0.Add(paceWindow), 10, 3)
	if got := p.limit(); got != q {
		t.Fatalf("after one throttled window: %v, want %v", got, q)
	}
	// A calm window (3 of 10) between two throttled ones: still noise.
	window(t0.Add(2*paceWindow), 10, 7)
	window(t0.Add(3*paceWindow), 10, 7)
	if got := p.limit(); got != q {
		t.Fatalf("after throttled, calm, throttled windows: %v, want %v", got, q)
	}
	// The second throttled window in a row (7 of 10) cuts the pace.
	p.observe(t0.Add(4*paceWindow), true)
	if got := p.limit(); got != q*paceDecrease {
		t.Fatalf("after two throttled windows in a row: %v, want %v", got, q*paceDecrease)
	}
	// Sporadic throttling (30%) does not slow the pace further; it recovers.
	at := t0.Add(4 * paceWindow)
	for range 5 {
		window(at, 10, 3)
		at = at.Add(paceWindow)
	}
	p.observe(at, false)
	if got := p.limit(); got != q {
		t.Fatalf("after calm windows: %v, want back at %v", got, q)
	}
	// Sustained overload converges down but never below the floor.
	for range 50 {
		window(at, 10, 10)
		at = at.Add(paceWindow)
	}
	p.observe(at, true)
	if got := p.limit(); got != paceFloor {
		t.Fatalf("after sustained throttling: %v, want the floor %v", got, paceFloor)
	}
}

// TestRunEndedContext: a canceled context stops the run as Canceled; a
// context past its deadline (the function's calls window ended) as
// Deadline, which says a later run picks the targets up.
func TestRunEndedContext(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		code string
	}{{"canceled", canceled, "Canceled"}, {"deadline", expired, "Deadline"}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			res := Run(tt.ctx, f, testPlan(2), serial(Options{}))
			for i, r := range res {
				var se *StopError
				if r.State != NotStarted || !errors.As(r.Err, &se) || se.Code != tt.code {
					t.Errorf("target %d: %s %v, want not_started %s", i, r.State, r.Err, tt.code)
				}
			}
			if f.totalSets() != 0 || f.describes != 0 {
				t.Errorf("calls made after the end: %d sets, %d describes", f.totalSets(), f.describes)
			}
		})
	}
}
