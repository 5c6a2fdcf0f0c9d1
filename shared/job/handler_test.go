package job

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// flakyStore fails its first Puts of reports with the errors given; it
// holds no status page.
type flakyStore struct {
	store.Store
	errs []error
	puts int
}

// Get finds nothing (the alert state is not there yet).
func (s *flakyStore) Get(context.Context, string) (*store.Object, error) {
	return nil, store.ErrNotFound
}

// Put fails the report's first writes with errs; the alert state and
// the status page are written.
func (s *flakyStore) Put(_ context.Context, key string, _ []byte, _ string) error {
	if key == alert.StateKey || strings.HasPrefix(key, config.DefaultStatusPrefix) {
		return nil
	}
	s.puts++
	if s.puts <= len(s.errs) {
		return s.errs[s.puts-1]
	}
	return nil
}

// hookRecorder is a webhook endpoint keeping what it is posted.
func hookRecorder(t *testing.T) (*report.Webhook, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m["text"].(string))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return &report.Webhook{URL: srv.URL, Name: "1"}, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestReportWrite: the report is written again after a transient failure
// (bounded), a refusal is not retried, and the hint follows the cause: a
// refused connection is not blamed on a missing oss:PutObject permission.
// A report that could not be written reaches the webhook and, when
// transient, makes FC retry.
func TestReportWrite(t *testing.T) {
	transientErr := &store.Error{Op: "put", Key: "k", Detail: "request to OSS failed", Err: errors.New("connection reset by peer")}
	denied := &store.Error{Op: "put", Key: "k", Code: "AccessDenied", Err: store.ErrDenied}
	realOSS := func(t *testing.T) store.Store {
		env := map[string]string{"CERTDROP_OSS_ENDPOINT": "http://" + closedPort(t), "FC_REGION": "cn-hangzhou"}
		st, err := store.OpenOSS(context.Background(), "certs-bucket", "", store.Options{Getenv: func(k string) string { return env[k] },
			Credentials: &credchain.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	tests := []struct {
		name      string
		store     func(*testing.T) store.Store
		puts      int
		written   bool
		retry     bool
		hintHas   string
		hintHasNo string
	}{
		{"transient twice, then written", func(*testing.T) store.Store { return &flakyStore{errs: []error{transientErr, transientErr}} }, 3, true, false, "", ""},
		{"transient to the end", func(*testing.T) store.Store {
			return &flakyStore{errs: []error{transientErr, transientErr, transientErr}}
		}, 3, false, true, "could not be reached", "PutObject"},
		{"denied", func(*testing.T) store.Store { return &flakyStore{errs: []error{denied}} }, 1, false, false, "oss:PutObject", ""},
		{"connection refused (real OSS client)", realOSS, -1, false, true, "could not be reached", "PutObject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.store(t)
			hook, posted := hookRecorder(t)
			r := &Runner{Config: &Config{Bucket: "certs-bucket", ReportPrefix: "certdrop/reports/", Webhooks: []*report.Webhook{hook}},
				OpenStore: func(context.Context, string, *credchain.Credentials) (store.Store, error) { return st, nil }}
			fc := &fcruntime.Invocation{RequestID: "req-1", Body: []byte(`{"hello":"world"}`), Received: time.Now(),
				Log: slog.New(slog.DiscardHandler)}
			body, retry := r.Invoke(context.Background(), fc)
			var out Outcome
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			if fs, ok := st.(*flakyStore); ok && fs.puts != tt.puts {
				t.Errorf("%d tries, want %d", fs.puts, tt.puts)
			}
			if (out.ReportKey != "") != tt.written || (out.ReportError == nil) != tt.written || retry != tt.retry {
				t.Fatalf("report %q error %+v retry %v", out.ReportKey, out.ReportError, retry)
			}
			if !tt.written {
				h := out.ReportError.Hint
				if !strings.Contains(h, tt.hintHas) || (tt.hintHasNo != "" && strings.Contains(h, tt.hintHasNo)) {
					t.Errorf("hint %q, want %q and not %q", h, tt.hintHas, tt.hintHasNo)
				}
				if p := posted(); len(p) != 1 || !strings.Contains(p[0], "ReportNotWritten: 1 report(s) not written") {
					t.Errorf("webhook posts %q", p)
				}
			}
		})
	}
}

// TestReportKeyPerRequest: the key depends on the request and the event's
// day, not on when the attempt started, so a retry replaces the report.
func TestReportKeyPerRequest(t *testing.T) {
	ev := []byte(`{"events":[{"eventName":"ObjectCreated:PutObject","eventTime":"2026-11-23T23:59:59.000Z","oss":{"bucket":{"name":"b"},"object":{"key":"certs/a.txt"}}}]}`)
	var keys []string
	for _, received := range []time.Time{time.Date(2026, 11, 23, 23, 59, 59, 0, time.UTC), time.Date(2026, 11, 24, 0, 1, 0, 0, time.UTC)} {
		st := &flakyStore{}
		r := &Runner{Config: &Config{Bucket: "b", TriggerPrefix: "certs/", ReportPrefix: "certdrop/reports/"},
			Now:       func() time.Time { return received },
			OpenStore: func(context.Context, string, *credchain.Credentials) (store.Store, error) { return st, nil }}
		// A waiting or ignored-only outcome is not written; give the run
		// something to write: a manifest it cannot read.
		r.Config.Manifest = "/nonexistent/manifest.yaml"
		ev2 := strings.Replace(string(ev), "certs/a.txt", "certs/a.pem", 1)
		body, _ := r.Invoke(context.Background(), &fcruntime.Invocation{RequestID: "req-9", Body: []byte(ev2), Received: received, Log: slog.New(slog.DiscardHandler)})
		var out Outcome
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, out.ReportKey)
	}
	if keys[0] != "oss://b/certdrop/reports/2026/11/23/req-9.json" || keys[0] != keys[1] {
		t.Errorf("report keys %q", keys)
	}
}

// TestNoCredentialsAlerted: a run that finds no credentials for the API
// clients says so in the outcome and the webhook.
func TestNoCredentialsAlerted(t *testing.T) {
	out := &Outcome{Trigger: "oss", RequestID: "r", Error: &report.Error{Code: "NoClient", Message: "no Alibaba Cloud credentials: set ..."}}
	n, alert := notice(out, 0)
	if !alert || !strings.Contains(n.Text(), "NoClient") || !strings.Contains(n.Title, "failed before any call") {
		t.Errorf("notice %+v alert %v", n, alert)
	}
	if out.Retry() || !out.Failed() || out.status() != "failed" {
		t.Errorf("retry %v failed %v", out.Retry(), out.Failed())
	}
}

// TestPinProblemsOutcome: a pin not written or not deleted fails the
// invocation (retried when the store may answer next time); a pin that
// cannot be read is reported (status pinned) and fails nothing.
func TestPinProblemsOutcome(t *testing.T) {
	for _, tt := range []struct {
		code          string
		transient     bool
		failed, retry bool
		status        string
	}{
		{"PinNotWritten", true, true, true, "failed"},
		{"PinNotWritten", false, true, false, "failed"},
		{"PinNotDeleted", true, true, true, "failed"},
		{"PinUnreadable", false, false, false, "pinned"},
		{"PinsUnlisted", true, false, false, "pinned"},
	} {
		out := &Outcome{Result: Result{Pins: []PinNote{{State: PinProblem, Key: "certdrop/pins/x.json",
			Error: &report.Error{Code: tt.code, Message: "m", Transient: tt.transient}}}}}
		if out.Failed() != tt.failed || out.Retry() != tt.retry || out.status() != tt.status || !out.Worth() {
			t.Errorf("%s transient=%v: failed %v retry %v status %q; want %v %v %q", tt.code, tt.transient,
				out.Failed(), out.Retry(), out.status(), tt.failed, tt.retry, tt.status)
		}
		if n, ok := notice(out, 0); !ok || !strings.Contains(n.Title, "rollback pin problem") {
			t.Errorf("%s: notice %+v; want an alert", tt.code, n)
		}
	}
}
