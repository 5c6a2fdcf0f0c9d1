package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/store"
)

const (
	bucket    = "certs-bucket"
	simKey    = "simAK"
	simSecret = "simSK-very-secret"
)

// harness is the whole deployment on loopback: the emulator (OpenAPI and
// OSS, whose trigger invokes the function) and the function's
// custom-runtime server in front of a job.Runner on the real clients.
type harness struct {
	t      *testing.T
	ctx    context.Context
	sim    *cloudsim.Sim
	fnURL  string
	st     store.Store
	ca     *cloudsim.CA
	getenv func(string) string
	logs   *testutil.Buffer

	mu       sync.Mutex
	outcomes []job.Outcome
	hooks    []string // webhook bodies posted
	offset   time.Duration
	// leftoversExpected turns off the renewal tests' final check that no
	// TXT record is left (a test of a record the API will not delete).
	leftoversExpected bool
}

// recorder keeps every outcome the function answered.
type recorder struct {
	h     *harness
	inner fcruntime.Handler
}

func (r recorder) Invoke(ctx context.Context, inv *fcruntime.Invocation) ([]byte, bool) {
	body, failed := r.inner.Invoke(ctx, inv)
	var o job.Outcome
	if err := json.Unmarshal(body, &o); err != nil {
		r.h.t.Errorf("the function answered something that is not an outcome: %v", err)
	}
	r.h.mu.Lock()
	r.h.outcomes = append(r.h.outcomes, o)
	r.h.mu.Unlock()
	return body, failed
}

// testDomains returns a fresh registry for each harness (tests change it).
func testDomains() cloudsim.Domains {
	return cloudsim.Domains{
		CDN:  []cloudsim.Domain{{Name: "www.example.com"}, {Name: "img.example.com"}, {Name: ".example.com"}, {Name: "legacy.other.org"}},
		VOD:  []cloudsim.Domain{{Name: "vod.example.com"}},
		Live: []cloudsim.Domain{{Name: "pull.example.com"}},
	}
}

const testManifest = `version: 1
targets:
  - product: cdn
    domains: [www.example.com, img.example.com, "*.example.com"]
  - product: vod
    domain: vod.example.com
  - product: live
    domain: pull.example.com
`

func newHarness(t *testing.T, mutate func(*cloudsim.Config)) *harness {
	t.Helper()
	return newHarnessEnv(t, mutate, nil)
}

// newHarnessEnv is newHarness with environment variables set or, when
// empty, unset.
func newHarnessEnv(t *testing.T, mutate func(*cloudsim.Config), extra map[string]string) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, logs: &testutil.Buffer{}}
	now := time.Now()
	root, err := cloudsim.NewRootCA("e2e root", now.Add(-time.Hour), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if h.ca, err = root.Intermediate("e2e intermediate", now.Add(-time.Hour), now.AddDate(4, 0, 0)); err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPath, root.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	var fn http.Handler
	fnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fn.ServeHTTP(w, r) }))
	t.Cleanup(fnSrv.Close)
	h.fnURL = fnSrv.URL

	cfg := cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: simKey, AccessKeySecret: simSecret}},
		Domains:     testDomains(),
		OSS: cloudsim.OSSSettings{
			Buckets:  []string{bucket},
			Triggers: []cloudsim.OSSTriggerSettings{{URL: fnSrv.URL + "/invoke", Prefix: "certs/", Credentials: simKey, Timeout: 900 * time.Second}},
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim, simEnv := cloudsimtest.StartEnv(t, cfg)
	h.sim = sim
	if issuer := sim.ACMEIssuerRoot(); len(issuer) > 0 {
		// The ACME CA's issued chains are trusted as the harness CA's.
		if err := os.WriteFile(rootPath, append(root.CertPEM(), issuer...), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.hooks = append(h.hooks, string(body))
		h.mu.Unlock()
	}))
	t.Cleanup(hookSrv.Close)
	env := map[string]string{
		"CERTDROP_WEBHOOK_URL": hookSrv.URL + "/hook",
		"CERTDROP_BUCKET":      bucket,
		"CERTDROP_MANIFEST":    "oss://" + bucket + "/certdrop/manifest.yaml",
		"CERTDROP_TRUST_ROOTS": rootPath,
	}
	maps.Copy(env, simEnv)
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	h.getenv = func(k string) string { return env[k] }
	jc, err := job.ConfigFromEnv(h.getenv)
	if err != nil {
		t.Fatal(err)
	}
	runner := &job.Runner{
		Config: jc,
		OpenStore: func(ctx context.Context, b string, creds *credchain.Credentials) (store.Store, error) {
			return store.OpenOSS(ctx, b, "", store.Options{Getenv: h.getenv, Credentials: creds})
		},
		NewClient: func(ctx context.Context, creds *credchain.Credentials) (fanout.Client, error) {
			return all.Products().NewClient(cloud.Options{Getenv: h.getenv, Credentials: creds})
		},
		// Fast retries: the behaviour under test is which calls happen.
		Fanout: &fanout.Options{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		// A short wait for DNS records (a record never visible fails in
		// seconds); orders start however close the deadline.
		Renew: &renew.Options{PropagationTimeout: 3 * time.Second, PollInterval: 50 * time.Millisecond, MinOrderTime: time.Millisecond},
		// The clock, moved on by h.later.
		Now: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			return time.Now().Add(h.offset)
		},
	}
	fn = &fcruntime.Server{Handler: recorder{h, runner}, Log: slog.New(slog.NewJSONHandler(h.logs, nil))}
	// The test's own view of the bucket signs with the emulator's key,
	// whatever the function's environment holds.
	testCreds := &credchain.Credentials{AccessKeyID: simKey, AccessKeySecret: simSecret}
	if h.st, err = store.OpenOSS(ctx, bucket, "", store.Options{Getenv: h.getenv, Credentials: testCreds}); err != nil {
		t.Fatal(err)
	}
	h.putQuiet("certdrop/manifest.yaml", []byte(testManifest))
	t.Cleanup(func() {
		for _, secret := range []string{simSecret, "PRIVATE KEY"} {
			if strings.Contains(h.logs.String(), secret) {
				t.Errorf("the function's logs contain %q", secret)
			}
		}
	})
	return h
}

// leaf issues a certificate for names under the harness CA.
func (h *harness) leaf(notAfter time.Time, names ...string) *cloudsim.Leaf {
	h.t.Helper()
	l, err := h.ca.Issue(cloudsim.LeafRequest{DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter})
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// issued issues a leaf for example.com and *.example.com, valid from
// notBefore for three months.
func (h *harness) issued(notBefore time.Time) *cloudsim.Leaf {
	h.t.Helper()
	l, err := h.ca.Issue(cloudsim.LeafRequest{DNSNames: []string{"example.com", "*.example.com"},
		NotBefore: notBefore, NotAfter: time.Now().AddDate(0, 3, 0)})
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

func (h *harness) fullchain(l *cloudsim.Leaf) []byte {
	return append(append([]byte{}, l.CertPEM...), h.ca.CertPEM()...)
}

// putQuiet writes an object outside the trigger's prefix.
func (h *harness) putQuiet(key string, data []byte) {
	h.t.Helper()
	if err := h.st.Put(h.ctx, key, data, ""); err != nil {
		h.t.Fatal(err)
	}
}

// put writes an object and waits until the trigger's invocation (and its
// retries) are over.
func (h *harness) put(key string, data []byte) {
	h.t.Helper()
	h.putQuiet(key, data)
	h.settle()
}

func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 60*time.Second)
	defer cancel()
	if err := h.sim.OSS().WaitNotifications(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// invoke posts an event straight to the function, as FC would.
func (h *harness) invoke(body string) (int, job.Outcome) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, h.fnURL+"/invoke", strings.NewReader(body))
	req.Header.Set(fcruntime.HeaderRequestID, fmt.Sprintf("manual-%d", time.Now().UnixNano()))
	req.Header.Set(fcruntime.HeaderAccessKeyID, simKey)
	req.Header.Set(fcruntime.HeaderAccessKeySecret, simSecret)
	req.Header.Set(fcruntime.HeaderFunctionTimeout, "900")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var o job.Outcome
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, o
}

// setCalls counts the successful Set calls per domain, from the journal.
func (h *harness) setCalls() map[string]int {
	n := map[string]int{}
	for _, e := range h.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") && e.Outcome == "ok" {
			n[e.Domain]++
		}
	}
	return n
}

// allSets counts every Set call, answered well or not.
func (h *harness) allSets() int {
	n := 0
	for _, e := range h.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			n++
		}
	}
	return n
}

// later moves the function's clock on by d.
func (h *harness) later(d time.Duration) {
	h.mu.Lock()
	h.offset += d
	h.mu.Unlock()
}

// webhooks returns the bodies posted to the webhook so far.
func (h *harness) webhooks() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hooks...)
}

// reportObjects lists the reports written in the bucket.
func (h *harness) reportObjects() []store.ObjectInfo {
	h.t.Helper()
	objs, err := h.st.List(h.ctx, "certdrop/reports/")
	if err != nil {
		h.t.Fatal(err)
	}
	return objs
}

func (h *harness) recorded() []job.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]job.Outcome(nil), h.outcomes...)
}

// states maps "product domain" to state for an outcome's reports.
func states(o job.Outcome) map[string]string {
	m := map[string]string{}
	for _, r := range o.Reports {
		for _, t := range r.Targets {
			m[string(t.Product)+" "+t.Domain] = string(t.State)
		}
	}
	return m
}

var allDeployed = map[string]string{
	"cdn www.example.com": "deployed", "cdn img.example.com": "deployed", "cdn .example.com": "deployed",
	"vod vod.example.com": "deployed", "live pull.example.com": "deployed",
}

func sameStates(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: states\n got %v\nwant %v", what, got, want)
	}
}

// assertSetOnce: every target had exactly one successful Set, and no
// target is reported deployed without one.
func assertSetOnce(t *testing.T, h *harness) {
	t.Helper()
	sets := h.setCalls()
	for _, d := range []string{"www.example.com", "img.example.com", ".example.com", "vod.example.com", "pull.example.com"} {
		if sets[d] != 1 {
			t.Errorf("%s: %d successful Set calls, want 1", d, sets[d])
		}
	}
}

func TestE2ECombinedBundle(t *testing.T) {
	h := newHarness(t, nil)
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	if len(outs) != 1 {
		t.Fatalf("%d invocations, want 1", len(outs))
	}
	sameStates(t, "first run", states(outs[0]), allDeployed)
	if outs[0].Failed() || outs[0].ReportKey == "" {
		t.Errorf("failed=%v reportKey=%q", outs[0].Failed(), outs[0].ReportKey)
	}
	assertSetOnce(t, h)
	// The report is in the bucket, under the report prefix, and readable.
	objs, err := h.st.List(h.ctx, "certdrop/reports/")
	if err != nil || len(objs) != 1 {
		t.Fatalf("reports in the bucket: %v %v", objs, err)
	}
	obj, err := h.st.Get(h.ctx, objs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var saved job.Outcome
	if err := json.Unmarshal(obj.Data, &saved); err != nil {
		t.Fatal(err)
	}
	sameStates(t, "saved report", states(saved), allDeployed)
	if bytes.Contains(obj.Data, []byte("PRIVATE KEY")) || bytes.Contains(obj.Data, []byte(simSecret)) {
		t.Error("the saved report holds a secret")
	}
	// The same bundle again: nothing is set.
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs = h.recorded()
	for k := range states(outs[1]) {
		if states(outs[1])[k] != "unchanged" {
			t.Errorf("second upload: %s is %s, want unchanged", k, states(outs[1])[k])
		}
	}
	assertSetOnce(t, h)
}

func TestE2ESplitPair(t *testing.T) {
	for _, keyFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyFirst=%v", keyFirst), func(t *testing.T) {
			h := newHarness(t, nil)
			l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
			files := [][2]string{{"fullchain.pem", string(h.fullchain(l))}, {"privkey.pem", string(l.KeyPEM)}}
			if keyFirst {
				files[0], files[1] = files[1], files[0]
			}
			h.put("certs/example.com/"+files[0][0], []byte(files[0][1]))
			outs := h.recorded()
			if len(outs) != 1 || len(outs[0].Waiting) != 1 || len(outs[0].Reports) != 0 || outs[0].Failed() {
				t.Fatalf("first half: %+v", outs)
			}
			if h.allSets() != 0 {
				t.Fatalf("%d Set calls for half a bundle", h.allSets())
			}
			h.put("certs/example.com/"+files[1][0], []byte(files[1][1]))
			outs = h.recorded()
			if len(outs) != 2 {
				t.Fatalf("%d invocations, want 2", len(outs))
			}
			sameStates(t, "second half", states(outs[1]), allDeployed)
			assertSetOnce(t, h)
		})
	}
}

// TestE2ERenewalKeyArrivesLate: a renewal whose new certificate lands while
// the old key is still there waits instead of failing, and the new key
// completes it.
func TestE2ERenewalKeyArrivesLate(t *testing.T) {
	h := newHarness(t, nil)
	old := h.leaf(time.Now().AddDate(0, 1, 0), "example.com", "*.example.com")
	h.put("certs/example.com/privkey.pem", old.KeyPEM)
	h.put("certs/example.com/fullchain.pem", h.fullchain(old))
	sameStates(t, "the old pair", states(h.recorded()[1]), allDeployed)
	renewed := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/fullchain.pem", h.fullchain(renewed))
	if outs := h.recorded(); len(outs) != 3 || len(outs[2].Waiting) != 1 || outs[2].Failed() {
		t.Fatalf("certificate without its key: %+v", outs[2:])
	}
	h.put("certs/example.com/privkey.pem", renewed.KeyPEM)
	sameStates(t, "after the key", states(h.recorded()[3]), allDeployed)
}

func TestE2EEncodedKeys(t *testing.T) {
	h := newHarness(t, nil)
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	key := "certs/my site/证书 100%+/full chain.pem"
	// Through the emulator's trigger (the key arrives raw)...
	h.put(key, append(h.fullchain(l), l.KeyPEM...))
	sameStates(t, "raw key", states(h.recorded()[0]), allDeployed)
	// ...and percent-encoded, as a notification may carry it.
	ev := h.sim.OSS().Deliveries()[0].Event
	encoded := strings.ReplaceAll(string(ev), `"key":"certs/my site/证书 100%+/full chain.pem"`,
		`"key":"certs/my%20site/%E8%AF%81%E4%B9%A6%20100%25%2B/full%20chain.pem"`)
	if encoded == string(ev) {
		t.Fatalf("the event does not hold the key as expected: %s", ev)
	}
	code, o := h.invoke(encoded)
	if code != http.StatusOK || len(o.Reports) != 1 {
		t.Fatalf("percent-encoded key: HTTP %d %+v", code, o)
	}
	for k, s := range states(o) {
		if s != "unchanged" {
			t.Errorf("%s is %s, want unchanged", k, s)
		}
	}
	assertSetOnce(t, h)
}

func TestE2EDuplicateEvents(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil })
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/example.com/fullchain.pem", h.fullchain(l))
	h.putQuiet("certs/example.com/privkey.pem", l.KeyPEM)
	rec := func(k string) string {
		return fmt.Sprintf(`{"eventName":"ObjectCreated:PutObject","region":"cn-hangzhou","oss":{"bucket":{"name":%q},"object":{"key":%q}}}`, bucket, k)
	}
	// One payload naming both files of the folder, delivered three times at once.
	body := `{"events":[` + rec("certs/example.com/fullchain.pem") + "," + rec("certs/example.com/privkey.pem") + `]}`
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if code, o := h.invoke(body); code != http.StatusOK || len(o.Reports) != 1 {
				t.Errorf("HTTP %d, %d reports", code, len(o.Reports))
			}
		})
	}
	wg.Wait()
	assertSetOnce(t, h)
}

// TestE2EPermanentFailureNotRetried: a target refused for a reason a
// retry cannot change (an offline domain) fails the run, which is written
// and alerted once, and is not answered as an error: FC does not retry it
// (its three retries would fail alike).
func TestE2EPermanentFailureNotRetried(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) {
		c.Domains.CDN[1].State = "offline" // img.example.com
	})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	if len(outs) != 1 {
		t.Fatalf("%d invocations, want 1 (no retry of a permanent failure)", len(outs))
	}
	o := outs[0]
	if st := states(o); !o.Failed() || o.Status != "failed" || st["cdn img.example.com"] != "failed" || st["cdn www.example.com"] != "deployed" {
		t.Errorf("failed=%v status=%s states=%v", o.Failed(), o.Status, st)
	}
	for _, r := range o.Reports {
		for _, tg := range r.Targets {
			if tg.Domain == "img.example.com" && (tg.Error == nil || tg.Error.Code != "InvalidDomain.Offline" || tg.Error.Hint == "" || tg.Error.Transient) {
				t.Errorf("offline domain error = %+v", tg.Error)
			}
		}
	}
	if d := h.sim.OSS().Deliveries()[0]; !d.OK || d.Attempts != 1 {
		t.Errorf("delivery: ok=%v attempts=%d", d.OK, d.Attempts)
	}
	if n := len(h.reportObjects()); n != 1 {
		t.Errorf("%d reports written, want 1", n)
	}
	if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "img.example.com") {
		t.Errorf("webhook posts: %q", hooks)
	}
	// Once the domain is back online, a manual re-run sets only it.
	if err := h.sim.SetDomainState("cdn", "img.example.com", "online"); err != nil {
		t.Fatal(err)
	}
	code, o := h.invoke(`{"bundle":"oss://` + bucket + `/certs/example.com/bundle.pem"}`)
	if code != http.StatusOK || states(o)["cdn img.example.com"] != "deployed" || states(o)["cdn www.example.com"] != "unchanged" {
		t.Errorf("manual re-run: HTTP %d %v", code, states(o))
	}
	assertSetOnce(t, h)
}

// TestE2ETransientFailureRetried: a target that failed for a reason a
// retry can get past (5xx to the last attempt) is answered as an error,
// FC retries, the retry sets what is missing, and the retry replaces the
// first attempt's report instead of adding one.
func TestE2ETransientFailureRetried(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) {
		c.Faults.Scripted = []cloudsim.Script{{Domain: "img.example.com", API: "SetCdnDomainSSLCertificate",
			Code: "ServiceUnavailable", Status: 503, Times: fanout.DefaultMaxAttempts}}
	})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.put("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	outs := h.recorded()
	if len(outs) != 2 {
		t.Fatalf("%d invocations, want 1 and 1 retry", len(outs))
	}
	if st := states(outs[0]); st["cdn img.example.com"] != "failed" || outs[0].Reports[0].Targets[1].Error == nil {
		t.Errorf("first attempt: %v", st)
	}
	if st := states(outs[1]); st["cdn img.example.com"] != "deployed" || st["cdn www.example.com"] != "unchanged" || outs[1].Failed() {
		t.Errorf("retry: %v", st)
	}
	if outs[0].ReportKey == "" || outs[0].ReportKey != outs[1].ReportKey {
		t.Errorf("report keys %q and %q: a retry must replace its report", outs[0].ReportKey, outs[1].ReportKey)
	}
	objs := h.reportObjects()
	if len(objs) != 1 {
		t.Fatalf("%d reports written, want 1", len(objs))
	}
	obj, err := h.st.Get(h.ctx, objs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var saved job.Outcome
	if err := json.Unmarshal(obj.Data, &saved); err != nil || states(saved)["cdn img.example.com"] != "deployed" {
		t.Errorf("the report kept is not the retry's: %v %v", err, states(saved))
	}
	assertSetOnce(t, h)
}

func TestE2EManualDryRun(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil })
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/example.com/fullchain.pem", h.fullchain(l))
	h.putQuiet("certs/example.com/privkey.pem", l.KeyPEM)
	code, o := h.invoke(`{"bundle":"oss://` + bucket + `/certs/example.com/","dryRun":true}`)
	if code != http.StatusOK || o.Trigger != "manual" || len(o.Reports) != 1 || !o.Reports[0].DryRun {
		t.Fatalf("HTTP %d %+v", code, o)
	}
	for k, s := range states(o) {
		if s != "planned" {
			t.Errorf("%s is %s, want planned", k, s)
		}
	}
	if n := h.allSets(); n != 0 {
		t.Errorf("a dry run made %d Set calls", n)
	}
}

func TestE2EReconcile(t *testing.T) {
	soon := time.Now().Add(5*24*time.Hour + time.Hour)
	h := newHarness(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		c.Domains.CDN[3].Installed = &cloudsim.SeedCert{CertName: "hand-made", NotAfter: soon}
	})
	h.putQuiet("certdrop/manifest.yaml", []byte(testManifest+"  - product: cdn\n    domain: legacy.other.org\n"))
	// Two bundles for the same names: the reconcile deploys the newer.
	older := h.leaf(time.Now().AddDate(0, 2, 0), "example.com", "*.example.com")
	newer := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(newer), newer.KeyPEM...))
	h.putQuiet("certs/old/example.com.pem", append(h.fullchain(older), older.KeyPEM...))
	timer := reconcileTimer
	code, o := h.invoke(timer)
	if code != http.StatusOK || o.Trigger != "timer" || len(o.Reports) != 1 {
		js, _ := json.MarshalIndent(o, "", " ")
		t.Fatalf("HTTP %d %s", code, js)
	}
	sameStates(t, "first reconcile", states(o), allDeployed)
	if o.Reports[0].Bundle.NotAfter.Unix() != newer.Cert.NotAfter.Unix() {
		t.Errorf("deployed the certificate expiring %v, want the newer one", o.Reports[0].Bundle.NotAfter)
	}
	if len(o.Expiring) != 1 || o.Expiring[0].Domain != "legacy.other.org" || o.Expiring[0].DaysLeft != 5 || o.Expiring[0].State != "expiring" {
		t.Errorf("expiring = %+v", o.Expiring)
	}
	// Drift: someone puts another certificate on www by hand.
	// Issued before the bundles (h.leaf backdates by an hour from now: once
	// a second has passed since they were issued, the hand-made one would
	// count as later, and rightly be skipped_newer).
	hand, err := h.ca.Issue(cloudsim.LeafRequest{DNSNames: []string{"www.example.com"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	h.setByHand("www.example.com", hand)
	code, o = h.invoke(timer)
	want := map[string]string{}
	for k := range allDeployed {
		want[k] = "unchanged"
	}
	want["cdn www.example.com"] = "deployed"
	if code != http.StatusOK {
		t.Errorf("HTTP %d", code)
	}
	sameStates(t, "reconcile after drift", states(o), want)
	if sets := h.setCalls(); sets["www.example.com"] != 3 || sets["img.example.com"] != 1 { // www: reconcile, by hand, reconcile
		t.Errorf("Set calls %v", sets)
	}
}

// setByHand installs a certificate on a CDN domain through the API, as a
// person would in the console.
func (h *harness) setByHand(domain string, l *cloudsim.Leaf) {
	h.t.Helper()
	b, err := bundle.Parse([]bundle.Source{{Name: "hand.pem", Data: append(h.fullchain(l), l.KeyPEM...)}}, bundle.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := plan.Build(b, &manifest.Manifest{Targets: []manifest.Target{{Product: cdn.Name, Domain: domain}}}, "", all.Products())
	if err != nil || len(p.Calls) != 1 {
		h.t.Fatalf("plan: %v %v", p, err)
	}
	c, err := all.Products().NewClient(cloud.Options{Getenv: h.getenv})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := c.Set(h.ctx, p.Calls[0], product.Once{}); err != nil {
		h.t.Fatal(err)
	}
}

// TestE2EBadEvent: an event that is not one is refused with no call,
// written and alerted, and not retried (it cannot change).
// An event over the size cap is a bad event like a small one: answered
// 200, written and alerted, not answered 404 before the handler (retried
// three times, never written nor alerted).
func TestE2EBadEvent(t *testing.T) {
	for _, tt := range []struct {
		name, body, msg string
	}{
		{"small", `{"hello":"world"}`, "expected an OSS trigger event"},
		{"over 1 MiB", `{"events":[` + strings.Repeat(" ", fcruntime.MaxEventSize) + `]}`, "event of more than 1048576 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			code, o := h.invoke(tt.body)
			if code != http.StatusOK || o.Error == nil || o.Error.Code != "BadEvent" || !strings.Contains(o.Error.Message, tt.msg) ||
				o.Status != "failed" || o.ReportKey == "" {
				t.Errorf("HTTP %d %+v", code, o)
			}
			// The report, and the alert state (certdrop's own object, at
			// a fixed key): nothing else.
			for _, e := range h.sim.Journal().Entries() {
				// The report, the alert state, and the status page, which
				// lists every run.
				if e.Service != "oss" || (e.API != "PutObject" && e.Key != alert.StateKey && !strings.HasPrefix(e.Key, "certdrop/status/")) {
					t.Errorf("a bad event caused a call: %+v", e)
				}
			}
			if objs := h.reportObjects(); len(objs) != 1 {
				t.Errorf("reports written: %+v", objs)
			}
			if hooks := h.webhooks(); len(hooks) != 1 || !strings.Contains(hooks[0], "BadEvent") || !strings.Contains(hooks[0], tt.msg) {
				t.Errorf("webhook posts: %q", hooks)
			}
		})
	}
}

// TestE2ESymlink: a PutSymlink event is handled through the link's target.
func TestE2ESymlink(t *testing.T) {
	h := newHarness(t, nil)
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("archive/example.com-2026.pem", append(h.fullchain(l), l.KeyPEM...))
	client, err := oss.New(h.getenv("CERTDROP_OSS_ENDPOINT"), simKey, simSecret,
		oss.AuthVersion(oss.AuthV4), oss.Region(h.getenv("FC_REGION")), oss.ForcePathStyle(true))
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.Bucket(bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutSymlink("certs/example.com/current.pem", "archive/example.com-2026.pem"); err != nil {
		t.Fatal(err)
	}
	h.settle()
	outs := h.recorded()
	if len(outs) != 1 {
		t.Fatalf("%d invocations, want 1", len(outs))
	}
	sameStates(t, "through the symlink", states(outs[0]), allDeployed)
	if ev := h.sim.OSS().Deliveries()[0].EventName; ev != "ObjectCreated:PutSymlink" {
		t.Errorf("the event was %s", ev)
	}
}

// TestE2EInitialize: FC's warm-up builds the client with the role's
// credentials; a refused configuration fails it.
func TestE2EInitialize(t *testing.T) {
	h := newHarness(t, nil)
	post := func(secret string) *http.Response {
		req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, h.fnURL+"/initialize", nil)
		req.Header.Set(fcruntime.HeaderRequestID, "init-1")
		req.Header.Set(fcruntime.HeaderAccessKeyID, simKey)
		req.Header.Set(fcruntime.HeaderAccessKeySecret, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(simSecret); resp.StatusCode != http.StatusOK {
		t.Errorf("initialize: HTTP %d", resp.StatusCode)
	}
	bad := &job.Runner{Config: &job.Config{}, NewClient: func(context.Context, *credchain.Credentials) (fanout.Client, error) {
		return nil, errors.New("CERTDROP_CDN_ENDPOINT: plain http only to a loopback host")
	}}
	srv := &fcruntime.Server{Handler: bad}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/initialize", nil)
	req.Header.Set(fcruntime.HeaderAccessKeyID, simKey)
	req.Header.Set(fcruntime.HeaderAccessKeySecret, simSecret)
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound || rec.Header().Get(fcruntime.HeaderStatus) != "404" {
		t.Errorf("a failing warm-up answered %d", rec.Code)
	}
}
