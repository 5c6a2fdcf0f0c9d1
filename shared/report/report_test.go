package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/oss"
	"github.com/certdrop/certdrop/shared/product/vod"
)

const fakeKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFAKEFAKEFAKE\n-----END EC PRIVATE KEY-----\n"

// targetCall is the call naming t, as its product plans it.
func targetCall(t manifest.Target) plan.Call {
	c, err := plan.TargetCall(all.Products(), t)
	if err != nil {
		panic(err)
	}
	return c
}

func testRun() (*plan.Plan, []fanout.Result) {
	na := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	p := &plan.Plan{
		Bundle:     bundle.Identity{CommonName: "example.com", SANs: []string{"example.com", "*.example.com"}, NotAfter: na, Fingerprint: "00ff"},
		Sources:    []string{"certs/example.com/fullchain.pem", "certs/example.com/privkey.pem"},
		CertName:   "certdrop-example.com-20270201-00ff00ff",
		NotCovered: []plan.Call{targetCall(manifest.Target{Product: live.Name, Domain: "live.other.com", Bundle: "certs/example.com/"})},
	}
	mk := func(prod manifest.Product, d string) plan.Call {
		return plan.Call{Target: manifest.Target{Product: prod, Domain: d}, API: targetCall(manifest.Target{Product: prod, Domain: d}).API, DomainName: d,
			Params: []plan.Param{{Name: "SSLPri", Value: fakeKey, Sensitive: true}}}
	}
	p.Calls = []plan.Call{mk(cdn.Name, "a.example.com"), mk(cdn.Name, "b.example.com"),
		mk(vod.Name, "v.example.com"), mk(live.Name, "l.example.com")}
	later := na.AddDate(0, 2, 0)
	rs := []fanout.Result{
		{Call: p.Calls[0], State: fanout.Deployed, Attempts: 2, Throttled: 1, RequestIDs: []string{"r1", "r2"}, Duration: 300 * time.Millisecond},
		{Call: p.Calls[1], State: fanout.Failed, Attempts: 1, RequestIDs: []string{"r3"},
			Err: &apiErr{code: "InvalidDomain.Offline", msg: "the API said no", hint: "the domain is offline: start it first"}},
		{Call: p.Calls[2], State: fanout.SkippedNewer, Before: &fanout.Installed{CertName: "newer", NotAfter: later, HTTPS: true}},
		{Call: p.Calls[3], State: fanout.NotStarted, Err: &fanout.StopError{Code: "Deadline", Message: "deadline near"}},
	}
	return p, rs
}

// apiErr is an API client's error as report sees it (cloud's *Error in
// the function).
type apiErr struct {
	code, msg, hint string
	temporary       bool
}

func (e *apiErr) Error() string      { return "Set " + e.code + ": " + e.msg }
func (e *apiErr) APICode() string    { return e.code }
func (e *apiErr) APIMessage() string { return e.msg }
func (e *apiErr) APIHint() string    { return e.hint }
func (e *apiErr) Temporary() bool    { return e.temporary }

// TestNoClientDependency: report reads API errors through APIError and
// needs no client package.
func TestNoClientDependency(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasSuffix(imp, "/shared/cloud") {
			t.Errorf("report imports %s", imp)
		}
	}
}

// TestErrorTransient: the report says which failures a retry can get past.
func TestErrorTransient(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      string
		transient bool
	}{
		{"throttled to the end", fmt.Errorf("after 6 tries: %w", &apiErr{code: "Throttling.User", temporary: true}), "Throttling.User", true},
		{"network", &apiErr{temporary: true}, "NetworkError", true},
		{"offline domain", &apiErr{code: "InvalidDomain.Offline", hint: "start it"}, "InvalidDomain.Offline", false},
		{"deadline", &fanout.StopError{Code: "Deadline"}, "Deadline", true},
		{"canary", &fanout.StopError{Code: "CanaryFailed"}, "CanaryFailed", false},
		{"auth", &fanout.StopError{Code: "AuthFailed"}, "AuthFailed", false},
		{"other", errors.New("boom"), "Error", false},
	}
	for _, tt := range tests {
		e := errorOf(tt.err)
		if e.Code != tt.code || e.Transient != tt.transient {
			t.Errorf("%s: code %s transient %v, want %s %v", tt.name, e.Code, e.Transient, tt.code, tt.transient)
		}
	}
}

func TestNewReport(t *testing.T) {
	p, rs := testRun()
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r := New(Meta{Trigger: TriggerOSS, RequestID: "fc-req-1", StartedAt: start}, p, rs, start.Add(1500*time.Millisecond))
	want := Summary{Total: 5, Deployed: 1, Failed: 1, SkippedNewer: 1, NotStarted: 1, NotCovered: 1,
		DurationMs: 1500, LowerBoundMs: p.LowerBound().Milliseconds()}
	if r.Summary != want {
		t.Errorf("summary = %+v\nwant      %+v", r.Summary, want)
	}
	if r.Summary.OK() {
		t.Error("a run with a failed target reports OK")
	}
	byDomain := map[string]Target{}
	for _, tg := range r.Targets {
		byDomain[tg.Domain] = tg
	}
	tests := []struct {
		domain, state, code, hint string
	}{
		{"a.example.com", "deployed", "", ""},
		{"b.example.com", "failed", "InvalidDomain.Offline", "the domain is offline: start it first"},
		{"v.example.com", "skipped_newer", "", ""},
		{"l.example.com", "not_started", "Deadline", stopHints["Deadline"]},
		{"live.other.com", "not_covered", "NotCovered", "issue a certificate that names this domain, or remove its bundle: binding"},
	}
	for _, tt := range tests {
		tg, ok := byDomain[tt.domain]
		if !ok {
			t.Errorf("%s missing from the report", tt.domain)
			continue
		}
		if string(tg.State) != tt.state {
			t.Errorf("%s state = %s, want %s", tt.domain, tg.State, tt.state)
		}
		switch {
		case tt.code == "" && tg.Error != nil:
			t.Errorf("%s has error %+v", tt.domain, tg.Error)
		case tt.code != "" && (tg.Error == nil || tg.Error.Code != tt.code || tg.Error.Hint != tt.hint):
			t.Errorf("%s error = %+v, want code %q hint %q", tt.domain, tg.Error, tt.code, tt.hint)
		}
	}
	if got := byDomain["a.example.com"]; got.Attempts != 2 || got.Throttled != 1 || len(got.RequestIDs) != 2 || got.DurationMs != 300 {
		t.Errorf("deployed target = %+v", got)
	}
}

// TestJSONNames pins the report's field names: people script against them.
func TestJSONNames(t *testing.T) {
	p, rs := testRun()
	r := New(Meta{Trigger: TriggerCLI, StartedAt: time.Now()}, p, rs, time.Now())
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) || bytes.Contains(data, []byte("FAKEFAKE")) {
		t.Fatal("the report contains key material")
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	checks := []struct {
		name string
		obj  map[string]any
		want string
	}{
		{"report", doc, "bundle,dryRun,finishedAt,requestId,runId,startedAt,summary,targets,trigger"},
		{"bundle", doc["bundle"].(map[string]any), "certName,fingerprint,issuer,keys,notAfter,sans,subject"},
		{"summary", doc["summary"].(map[string]any), "deployed,durationMs,failed,lowerBoundMs,not_covered,not_started,planned,skipped_newer,total,unchanged"},
		{"target", doc["targets"].([]any)[1].(map[string]any), "api,attempts,describeThrottled,describes,domain,durationMs,error,product,requestIds,state,throttled"},
		{"error", doc["targets"].([]any)[1].(map[string]any)["error"].(map[string]any), "code,hint,message"},
	}
	for _, c := range checks {
		if got := keys(c.obj); got != c.want {
			t.Errorf("%s fields = %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	p, rs := testRun()
	r := New(Meta{Trigger: TriggerCLI, StartedAt: time.Now()}, p, rs, time.Now())
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"a.example.com", "deployed",
		"InvalidDomain.Offline: the API said no → the domain is offline: start it first",
		"carries newer, expiring 2027-04-01 (later)", "not_started", "not_covered",
		"FAILED: 1 deployed, 1 skipped_newer, 1 not_covered, 1 failed, 1 not_started of 5 target(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWebhook(t *testing.T) {
	p, rs := testRun()
	failing := New(Meta{Trigger: TriggerOSS, StartedAt: time.Now()}, p, rs, time.Now())
	ok := New(Meta{Trigger: TriggerOSS, StartedAt: time.Now()}, p, rs[:1], time.Now())
	ok.Targets = ok.Targets[:1]
	ok.Summary = summarize(ok.Targets)

	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body is not JSON: %v", err)
		}
		got = append(got, m)
	}))
	defer srv.Close()

	tests := []struct {
		format   string
		always   bool
		report   *Report
		posted   bool
		textPath []string
	}{
		{FormatDingTalk, false, failing, true, []string{"text", "content"}},
		{FormatFeishu, false, failing, true, []string{"content", "text"}},
		{FormatSlack, false, failing, true, []string{"text"}},
		{FormatJSON, false, failing, true, []string{"text"}},
		{FormatJSON, false, ok, false, nil},
		{FormatSlack, true, ok, true, []string{"text"}},
	}
	for _, tt := range tests {
		got = nil
		w := &Webhook{URL: srv.URL + "/robot/send?access_token=SECRET-TOKEN", Format: tt.format, Always: tt.always}
		posted, err := w.Notify(context.Background(), tt.report)
		if err != nil || posted != tt.posted || len(got) != map[bool]int{true: 1}[tt.posted] {
			t.Errorf("%s always=%v: posted=%v err=%v bodies=%d", tt.format, tt.always, posted, err, len(got))
			continue
		}
		if !tt.posted {
			continue
		}
		var v any = got[0]
		for _, k := range tt.textPath {
			v = v.(map[string]any)[k]
		}
		if s, _ := v.(string); !strings.Contains(s, "example.com") || !strings.Contains(s, SummaryLine(tt.report)) {
			t.Errorf("%s: text = %q", tt.format, v)
		}
	}
}

func TestWebhookErrorsHideToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	p, rs := testRun()
	r := New(Meta{StartedAt: time.Now()}, p, rs, time.Now())
	w := &Webhook{URL: srv.URL + "/hook?access_token=SECRET-TOKEN"}
	_, err := w.Notify(context.Background(), r)
	srv.Close()
	_, err2 := w.Notify(context.Background(), r) // server gone: a network error
	for _, e := range []error{err, err2} {
		if e == nil {
			t.Fatal("want an error")
		}
		if strings.Contains(e.Error(), "SECRET-TOKEN") || strings.Contains(e.Error(), "/hook") {
			t.Errorf("error leaks the webhook URL: %v", e)
		}
	}
}

func TestWebhookFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if ws, err := WebhooksFromEnv(env(nil)); ws != nil || err != nil {
		t.Errorf("no URL: %v %v", ws, err)
	}
	ws, err := WebhooksFromEnv(env(map[string]string{"CERTDROP_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=x",
		"CERTDROP_WEBHOOK_FORMAT": "DingTalk", "CERTDROP_WEBHOOK_ON": "always"}))
	if err != nil || len(ws) != 1 || ws[0].Format != FormatDingTalk || !ws[0].Always || ws[0].Name != "1" {
		t.Errorf("got %v %v", ws, err)
	}
	for _, bad := range []map[string]string{
		{"CERTDROP_WEBHOOK_URL": "https://x", "CERTDROP_WEBHOOK_FORMAT": "teams"},
		{"CERTDROP_WEBHOOK_URL": "https://x", "CERTDROP_WEBHOOK_ON": "sometimes"},
		{"CERTDROP_WEBHOOK_URL": "not a url"},
	} {
		if _, err := WebhooksFromEnv(env(bad)); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

// TestWebhookURLChecked: a webhook URL no post could reach, or one that
// would carry the summary in clear over the network, is refused at start
// (accepted, every alert would be dropped with one WARN line), without
// repeating the URL's path or query (a chat's token).
func TestWebhookURLChecked(t *testing.T) {
	tests := []struct {
		url, errHas string
	}{
		{"https://oapi.dingtalk.com/robot/send?access_token=TOKEN", ""},
		{"http://127.0.0.1:8080/hook?token=TOKEN", ""},
		{"http://[::1]:8080/hook", ""},
		{"http://localhost/hook", ""},
		{"file:///etc/passwd", `scheme "file"`},
		{"gopher://hooks.example.com/TOKEN", `scheme "gopher"`},
		{"ftp://hooks.example.com/TOKEN", `scheme "ftp"`},
		{"hooks/alert?token=TOKEN", "not an absolute URL"},
		{"/hooks/alert?token=TOKEN", "not an absolute URL"},
		{"http://hooks.example.com/alert?token=TOKEN", "plain http is allowed only to a loopback host"},
		{"http://10.0.0.1/alert?token=TOKEN", "plain http is allowed only to a loopback host"},
		{"https:///alert?token=TOKEN", "no host"},
	}
	for _, tt := range tests {
		ws, err := WebhooksFromEnv(func(k string) string {
			if k == "CERTDROP_WEBHOOK_URL" {
				return tt.url
			}
			return ""
		})
		var w *Webhook
		if len(ws) == 1 {
			w = ws[0]
		}
		switch {
		case tt.errHas == "" && (err != nil || w == nil || w.URL != tt.url):
			t.Errorf("%s: %+v %v; want it accepted", tt.url, w, err)
		case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.HasPrefix(err.Error(), "CERTDROP_WEBHOOK_URL")):
			t.Errorf("%s: %v; want an error with %q", tt.url, err, tt.errHas)
		case err != nil && (strings.Contains(err.Error(), "TOKEN") || strings.Contains(err.Error(), "alert")):
			t.Errorf("%s: the error repeats the URL's path or query: %v", tt.url, err)
		}
	}
}

// TestWebhookRetried: a failed post (an answer other than 2xx, 500
// included, or no answer within the try's time) is tried once more; the
// error says how many tries failed and what the last one got. A webhook
// that never answers costs two bounded tries, not a hung run.
func TestWebhookRetried(t *testing.T) {
	p, rs := testRun()
	rep := New(Meta{Trigger: TriggerOSS, StartedAt: time.Now()}, p, rs, time.Now())
	tests := []struct {
		name    string
		answers []int // status per request; 0: never answer
		posts   int
		errHas  string
	}{
		{"500 then 200", []int{500, 200}, 2, ""},
		{"500 twice", []int{500, 500}, 2, "answered HTTP 500 (after 2 tries)"},
		{"403 twice", []int{403, 403}, 2, "answered HTTP 403 (after 2 tries)"},
		{"redirect not followed", []int{307, 307}, 2, "answered HTTP 307"},
		{"never answers", []int{0, 0}, 2, "(after 2 tries)"},
		{"200", []int{200}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				code := tt.answers[min(n, len(tt.answers)-1)]
				n++
				mu.Unlock()
				_, _ = io.Copy(io.Discard, r.Body) // the connection's close is seen once the body is read
				if code == 0 {
					<-r.Context().Done()
					return
				}
				if code == 307 {
					w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
				}
				w.WriteHeader(code)
			}))
			defer srv.Close()
			w := &Webhook{URL: srv.URL + "/hook?access_token=SECRET-TOKEN", AttemptTimeout: 200 * time.Millisecond}
			start := time.Now()
			posted, err := w.Notify(context.Background(), rep)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if !posted || n != tt.posts || (err == nil) != (tt.errHas == "") || (err != nil && !strings.Contains(err.Error(), tt.errHas)) {
				t.Errorf("posted %v, %d posts, error %v; want %d posts and an error with %q", posted, n, err, tt.posts, tt.errHas)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET-TOKEN") {
				t.Errorf("the error leaks the token: %v", err)
			}
			if took > 2*200*time.Millisecond+500*time.Millisecond+time.Second {
				t.Errorf("posting took %v: more than two bounded tries", took)
			}
		})
	}
}

// TestWebhookCutByContext: the caller's deadline cuts a post and its
// retry, whatever the try's own timeout.
func TestWebhookCutByContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Webhook{URL: srv.URL}).Post(ctx, Notice{Title: "t", Alert: true})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("error %v after %v; want an error at the caller's deadline", err, time.Since(start))
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false)
	for i := 1; i <= 20; i++ {
		p.Update(fanout.Progress{Done: i, Total: 20, Elapsed: time.Duration(i) * 100 * time.Millisecond})
	}
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// The first snapshot, one per tenth of the run, and the last.
	if len(lines) != 11 || !strings.HasPrefix(lines[0], "progress: 1/20 targets") ||
		!strings.HasPrefix(lines[10], "progress: 20/20 targets, 10.0/s, 0 throttled") {
		t.Errorf("plain progress printed %d lines:\n%s", len(lines), buf.String())
	}
	buf.Reset()
	bar := NewProgress(&buf, true)
	bar.Update(fanout.Progress{Done: 5, Total: 10, Throttled: 2, Elapsed: time.Second})
	bar.Update(fanout.Progress{Done: 10, Total: 10, Throttled: 2, Elapsed: 2 * time.Second})
	bar.Finish()
	if out := buf.String(); !strings.Contains(out, "\r[###############...............] 5/10  5.0/s  throttled 2") ||
		!strings.HasSuffix(out, "10/10  5.0/s  throttled 2 \n") {
		t.Errorf("bar = %q", out)
	}
}

// TestLowerBoundCountsNeededSets: a run that set nothing has no quota bound.
func TestLowerBoundCountsNeededSets(t *testing.T) {
	p, rs := testRun()
	for i := range rs {
		rs[i].State, rs[i].Attempts, rs[i].Err = fanout.Unchanged, 0, nil
	}
	r := New(Meta{StartedAt: time.Now()}, p, rs, time.Now())
	if r.Summary.LowerBoundMs != 0 || p.LowerBound() == 0 {
		t.Errorf("all unchanged: bound %dms (the plan's is %v)", r.Summary.LowerBoundMs, p.LowerBound())
	}
	rs[0].Attempts, rs[1].State = 3, fanout.Planned
	r = New(Meta{StartedAt: time.Now()}, p, rs, time.Now())
	if want := (2 * time.Second / 30).Milliseconds(); r.Summary.LowerBoundMs != want {
		t.Errorf("two CDN Sets needed: bound %dms, want %d", r.Summary.LowerBoundMs, want)
	}
}

// TestWebhookNotice: an alert notice (a refused bundle, a run that could
// not start, an expiring certificate) is posted without Always; other
// notices only with it; the lines posted are bounded.
func TestWebhookNotice(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, string(body))
	}))
	defer srv.Close()
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("line %d", i)
	}
	tests := []struct {
		format        string
		always, alert bool
		lines         []string
		posted        bool
		has, hasNot   string
	}{
		{FormatJSON, false, true, []string{"certs/a/: invalid bundle"}, true, "certs/a/: invalid bundle", ""},
		{FormatDingTalk, false, true, []string{"cdn www.example.com expires in 5 days"}, true, "expires in 5 days", ""},
		{FormatJSON, false, false, []string{"x"}, false, "", ""},
		{FormatSlack, true, false, []string{"x"}, true, "- x", ""},
		{FormatFeishu, false, true, many, true, "and 10 more", "line 20"},
	}
	for _, tt := range tests {
		got = nil
		w := &Webhook{URL: srv.URL, Format: tt.format, Always: tt.always}
		posted, err := w.Post(context.Background(), Notice{Trigger: TriggerTimer, RequestID: "req-1", Title: "certdrop timer", Lines: tt.lines, Alert: tt.alert})
		if err != nil || posted != tt.posted || len(got) != map[bool]int{true: 1}[tt.posted] {
			t.Errorf("%s always=%v alert=%v: posted=%v err=%v bodies=%d", tt.format, tt.always, tt.alert, posted, err, len(got))
			continue
		}
		if tt.posted && (!strings.Contains(got[0], tt.has) || (tt.hasNot != "" && strings.Contains(got[0], tt.hasNot))) {
			t.Errorf("%s: body %s, want %q and not %q", tt.format, got[0], tt.has, tt.hasNot)
		}
	}
}

// TestSkippedReachesTheWebhook: a skipped_newer target is a renewal that
// did not happen. Its note is in the report and the table, and the
// webhook posts about it (with the target listed) even when nothing
// failed.
func TestSkippedReachesTheWebhook(t *testing.T) {
	p, rs := testRun()
	const note = `the domain carries "newer", issued 2027-01-01 00:00 UTC, later than this certificate`
	nb := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	rs[2].Note, rs[2].Before.NotBefore = note, nb
	rs[2].Describes, rs[2].DescribeThrottled = 2, 1
	r := New(Meta{Trigger: TriggerOSS, StartedAt: time.Now()}, p, []fanout.Result{rs[0], rs[2]}, time.Now())
	r.Targets = r.Targets[:2] // no not_covered: nothing failed
	r.Summary = summarize(r.Targets)
	if !r.Summary.OK() {
		t.Fatalf("summary %+v should be OK", r.Summary)
	}
	sk := r.Targets[1]
	if sk.Note != note || sk.Previous == nil || sk.Previous.NotBefore == nil || !sk.Previous.NotBefore.Equal(nb) ||
		sk.Describes != 2 || sk.DescribeThrottled != 1 || sk.Attempts != 0 || sk.Throttled != 0 {
		t.Errorf("skipped target %+v", sk)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil || !strings.Contains(buf.String(), note) {
		t.Errorf("the table lacks the note: %v\n%s", err, buf.String())
	}
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(body, &got)
	}))
	defer srv.Close()
	posted, err := (&Webhook{URL: srv.URL}).Notify(context.Background(), r)
	if err != nil || !posted {
		t.Fatalf("a run with a skipped target was not posted: %v %v", posted, err)
	}
	if text, _ := got["text"].(string); !strings.Contains(text, "v.example.com: skipped_newer") || !strings.Contains(text, note) {
		t.Errorf("webhook text %q", text)
	}
	if list, _ := got["skipped"].([]any); len(list) != 1 || list[0].(map[string]any)["note"] != note {
		t.Errorf("webhook skipped = %v", got["skipped"])
	}
}

func TestPanicError(t *testing.T) {
	e := errorOf(&fanout.PanicError{Value: "nil map"})
	if e.Code != "Panic" || !strings.Contains(e.Message, "nil map") || e.Hint == "" {
		t.Errorf("%+v", e)
	}
}

// TestOSSTargetBucket: an oss target's row names its bucket and region
// (the same custom domain could be looked for on another bucket); a
// target of another product names neither.
func TestOSSTargetBucket(t *testing.T) {
	p, _ := testRun()
	ossCall := targetCall(manifest.Target{Product: oss.Name, Domain: "static.example.com", Fields: map[string]string{"bucket": "example-static"}, Region: "cn-hangzhou"})
	vodCall := targetCall(manifest.Target{Product: vod.Name, Domain: "v.example.com", Region: vod.RegionShanghai})
	p.Calls = []plan.Call{ossCall, vodCall}
	p.NotCovered = []plan.Call{targetCall(manifest.Target{Product: oss.Name, Domain: "other.example.org", Fields: map[string]string{"bucket": "example-other"}, Region: "cn-beijing", Bundle: "certs/"})}
	rs := []fanout.Result{{Call: ossCall, State: fanout.Deployed}, {Call: vodCall, State: fanout.Unchanged}}
	r := New(Meta{Trigger: TriggerOSS}, p, rs, time.Now())
	data, err := json.Marshal(r.Targets)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0]["bucket"] != "example-static" || rows[0]["region"] != "cn-hangzhou" || rows[0]["api"] != "PutCname" ||
		rows[2]["bucket"] != "example-other" || rows[2]["region"] != "cn-beijing" {
		t.Errorf("oss rows: %s", data)
	}
	if _, has := rows[1]["bucket"]; has {
		t.Errorf("a vod row names a bucket: %v", rows[1])
	}
	if _, has := rows[1]["region"]; has {
		t.Errorf("a vod row names a bucket region: %v", rows[1])
	}
}

// TestNotCoveredIsAFailure: a target bound to the bundle by its bundle:
// prefix that the certificate does not cover will not be renewed: the run
// is not OK and the webhook posts, even when every other target is fine.
func TestNotCoveredIsAFailure(t *testing.T) {
	p, rs := testRun()
	r := New(Meta{Trigger: TriggerOSS, StartedAt: time.Now()}, p, rs[:1], time.Now())
	if r.Summary.NotCovered != 1 || r.Summary.OK() {
		t.Fatalf("summary %+v: want one not_covered and not OK", r.Summary)
	}
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got, _ = io.ReadAll(req.Body)
	}))
	defer srv.Close()
	posted, err := (&Webhook{URL: srv.URL}).Notify(context.Background(), r)
	if err != nil || !posted || !strings.Contains(string(got), "live.other.com") {
		t.Errorf("posted %v %v: %s", posted, err, got)
	}
}
