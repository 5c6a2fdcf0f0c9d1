package job

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// deadlineClient accepts every call and keeps each call's context
// deadline (the zero time when it had none).
type deadlineClient struct {
	mu        sync.Mutex
	deadlines []time.Time
	sets      int
}

func (c *deadlineClient) note(ctx context.Context) {
	dl, _ := ctx.Deadline()
	c.mu.Lock()
	c.deadlines = append(c.deadlines, dl)
	c.mu.Unlock()
}

func (c *deadlineClient) Set(ctx context.Context, call plan.Call, calls fanout.Caller) error {
	return calls.Call(ctx, call.API, func() (string, error) {
		c.note(ctx)
		c.mu.Lock()
		c.sets++
		c.mu.Unlock()
		return "rid", nil
	})
}

func (c *deadlineClient) Describe(ctx context.Context, _ plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	return fanout.Installed{}, calls.Call(ctx, describeAPI, func() (string, error) {
		c.note(ctx)
		return "rid", nil
	})
}

// describeAPI is the fake clients' Describe operation.
var describeAPI = plan.API{Action: "Describe", Quota: 100}

// puttingStore is a genStore that keeps the reports written to it, and
// the status page's objects apart.
type puttingStore struct {
	*genStore
	mu     sync.Mutex
	puts   [][]byte
	status map[string][]byte
}

func (s *puttingStore) Put(_ context.Context, key string, data []byte, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(key, config.DefaultStatusPrefix) {
		if s.status == nil {
			s.status = map[string][]byte{}
		}
		s.status[key] = data
		return nil
	}
	s.puts = append(s.puts, data)
	return nil
}

func (s *puttingStore) Get(ctx context.Context, key string) (*store.Object, error) {
	if !strings.HasPrefix(key, config.DefaultStatusPrefix) {
		return s.genStore.Get(ctx, key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.status[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &store.Object{ObjectInfo: store.ObjectInfo{Key: key, Size: int64(len(data))}, Data: data}, nil
}

func (s *puttingStore) written() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.puts...)
}

// smallSetup is memSetup with n small bundles, each in its own folder, a
// client that keeps its calls' deadlines and a store that keeps the
// reports; ev names every folder.
func smallSetup(t *testing.T, n int) (*puttingStore, *deadlineClient, *Runner, string) {
	t.Helper()
	gen, _, r := memSetup(t)
	gen.n, gen.size = n, len(gen.template)
	st := &puttingStore{genStore: gen}
	client := &deadlineClient{}
	r.OpenStore = func(context.Context, string, *credchain.Credentials) (store.Store, error) { return st, nil }
	r.NewClient = func(context.Context, *credchain.Credentials) (fanout.Client, error) { return client, nil }
	var recs []string
	for i := range n {
		recs = append(recs, fmt.Sprintf(`{"eventName":"ObjectCreated:PutObject","oss":{"bucket":{"name":"b"},"object":{"key":%q}}}`, gen.key(i)))
	}
	return st, client, r, `{"events":[` + strings.Join(recs, ",") + `]}`
}

// TestShortTimeoutDeploys: a 30 s function deploys what fits, rather than
// being refused TimeoutTooShort by a margin sized for the longest call's
// own 35 s timeout: every call's context ends before the deadline less
// the report's and the alerts' budgets, so no call's timeout reaches past
// it.
func TestShortTimeoutDeploys(t *testing.T) {
	for _, timeout := range []time.Duration{30 * time.Second, 60 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			_, client, r, body := smallSetup(t, 1)
			ev, err := event.Parse([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(timeout)
			out := r.Run(context.Background(), Request{Event: ev, RequestID: "short", Deadline: deadline})
			if out.Error != nil || len(out.Reports) != 1 || !out.Reports[0].Summary.OK() || client.sets != 1 {
				t.Fatalf("error %+v, %d reports, %d sets; want the bundle deployed", out.Error, len(out.Reports), client.sets)
			}
			latest := deadline.Add(-(MinMargin - CallWindow))
			for _, dl := range client.deadlines {
				if dl.IsZero() || dl.After(latest) {
					t.Errorf("a call's context ends at %v; want by %v (the deadline less the report's and alerts' budgets)", dl, latest)
				}
			}
		})
	}
}

// hangingHook is a webhook endpoint that answers with code, or never
// (code 0), counting the posts.
func hangingHook(t *testing.T, code int) (*report.Webhook, *atomic.Int32) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // the client's close is seen once the body is read
		if code == 0 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return &report.Webhook{URL: srv.URL + "/hook?token=SECRET-TOKEN", Always: true}, &posts
}

// TestAlertsWithinDeadline: a webhook that never answers does not keep
// an invocation past its deadline (posts in a row, 10 s each, would take
// 70 s for a 60 s function). Posting is bounded, concurrent and cut
// before the deadline; the report is written first, and written again to say which
// messages were not delivered (a 500 answer included), as the outcome
// does. Here an 8 s deadline with a 4 s margin: the 60 s schedule in
// proportion.
func TestAlertsWithinDeadline(t *testing.T) {
	for _, tt := range []struct {
		name    string
		code    int
		bundles int
		errHas  string
	}{
		{"never answers", 0, 7, "8 of 8 webhook message(s) not delivered"},
		{"answers 500", 500, 7, "answered HTTP 500 (after 2 tries)"},
		// More messages than the alerts' time can post: the rest are cut.
		{"never answers, more than fit", 0, 40, "41 of 41 webhook message(s) not delivered: not posted: the invocation's deadline was near"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, _, r, body := smallSetup(t, tt.bundles)
			hook, posts := hangingHook(t, tt.code)
			r.Config.Webhooks, r.Config.Margin = []*report.Webhook{hook}, 4*time.Second
			const timeout = 8 * time.Second
			fc := &fcruntime.Invocation{RequestID: "req-hook", Body: []byte(body), Received: time.Now(), Timeout: timeout,
				Log: slog.New(slog.DiscardHandler)}
			// Bounded, so that an unbounded post (10 s each) fails the test
			// instead of hanging it.
			ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
			defer cancel()
			answer, retry := r.Invoke(ctx, fc)
			took := time.Since(fc.Received)
			if took >= timeout {
				t.Errorf("answered after %v: past the %v deadline", took, timeout)
			}
			var out Outcome
			if err := json.Unmarshal(answer, &out); err != nil {
				t.Fatal(err)
			}
			if out.Failed() || retry || out.ReportKey == "" || len(out.Reports) != tt.bundles {
				t.Errorf("status %q retry %v report %q, %d reports: an undelivered alert fails nothing", out.Status, retry, out.ReportKey, len(out.Reports))
			}
			if e := out.AlertError; e == nil || e.Code != "AlertNotDelivered" || !strings.Contains(e.Message, tt.errHas) ||
				strings.Contains(e.Message, "SECRET-TOKEN") {
				t.Errorf("alert error %+v; want AlertNotDelivered with %q", e, tt.errHas)
			}
			if n := posts.Load(); n < 2 {
				t.Errorf("%d posts; want at least a message and its retry", n)
			}
			w := st.written()
			if len(w) != 2 || strings.Contains(string(w[0]), "alertError") || !strings.Contains(string(w[1]), `"AlertNotDelivered"`) {
				t.Errorf("%d reports written; want the report, then again with the undelivered alerts", len(w))
			}
		})
	}
}

// TestBusyNotTimeoutTooShort: the second of two concurrent deliveries,
// waiting for the first inside the process, is not failed TimeoutTooShort
// (permanent and alerted: a false alarm) when the wait eats its time. It
// waits until its stop point at most and ends Busy: nothing started,
// transient (Function Compute retries it), alerted only when a retry is
// held back too.
func TestBusyNotTimeoutTooShort(t *testing.T) {
	release := make(chan struct{})
	var opens atomic.Int32
	r := &Runner{Config: &Config{Bucket: "b", TriggerPrefix: "certs/", ReportPrefix: "r/", Margin: time.Second},
		OpenStore: func(ctx context.Context, _ string, _ *credchain.Credentials) (store.Store, error) {
			if opens.Add(1) == 1 {
				<-release // the first invocation holds the runner
			}
			return nil, fmt.Errorf("no store here")
		}}
	time.AfterFunc(4*time.Second, func() { close(release) })
	ev, err := event.Parse([]byte(`{"bundle":"oss://b/certs/x/"}`))
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan *Outcome)
	go func() {
		first <- r.Run(context.Background(), Request{Event: ev, RequestID: "first", Deadline: time.Now().Add(time.Minute)})
	}()
	for opens.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	out := r.Run(context.Background(), Request{Event: ev, RequestID: "second", Deadline: start.Add(2 * time.Second)})
	took := time.Since(start)
	if out.Error == nil || out.Error.Code != CodeBusy || !out.Error.Transient || !out.Retry() || out.Failed() || out.status() != "busy" || !out.Worth() {
		t.Fatalf("second delivery: error %+v retry %v failed %v status %q; want Busy, transient, retried, not failed", out.Error, out.Retry(), out.Failed(), out.status())
	}
	if took > 1500*time.Millisecond {
		t.Errorf("the second delivery waited %v: past its stop point (1 s)", took)
	}
	if n, alert := notice(out, 0); alert {
		t.Errorf("the first delivery held back is alerted: %q", n.Title)
	}
	if n, alert := notice(out, 1); !alert || !strings.Contains(n.Text(), CodeBusy) {
		t.Errorf("a retry held back too is not alerted: %+v", n)
	}
	if o := <-first; o.Error == nil || o.Error.Code == CodeBusy {
		t.Errorf("first delivery: %+v", o.Error)
	}
	// Once the first is done, a delivery runs at once.
	if o := r.Run(context.Background(), Request{Event: ev, RequestID: "third", Deadline: time.Now().Add(2 * time.Second)}); o.Busy() {
		t.Errorf("third delivery: %+v", o.Error)
	}
}

// hangingClient's calls answer only when their context ends.
type hangingClient struct{ deadlineClient }

func (c *hangingClient) Describe(ctx context.Context, _ plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	return fanout.Installed{}, calls.Call(ctx, describeAPI, func() (string, error) {
		c.note(ctx)
		<-ctx.Done()
		return "", ctx.Err()
	})
}

// TestCallCutAtCallsEnd: a call that does not answer is cut where the
// calls' time ends, before the deadline, whatever its own timeout; its
// target ends failed or not_started (the Describe cut, its Set never
// sent), transient either way (FC retries), and the report is written in
// the time left.
func TestCallCutAtCallsEnd(t *testing.T) {
	st, _, r, body := smallSetup(t, 1)
	client := &hangingClient{}
	r.NewClient = func(context.Context, *credchain.Credentials) (fanout.Client, error) { return client, nil }
	r.Config.Margin = 2 * time.Second
	const timeout = 4 * time.Second
	fc := &fcruntime.Invocation{RequestID: "req-cut", Body: []byte(body), Received: time.Now(), Timeout: timeout, Log: slog.New(slog.DiscardHandler)}
	answer, retry := r.Invoke(context.Background(), fc)
	if took := time.Since(fc.Received); took >= timeout {
		t.Errorf("answered after %v: past the %v deadline", took, timeout)
	}
	var out Outcome
	if err := json.Unmarshal(answer, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Reports) != 1 || len(out.Reports[0].Targets) != 1 || !retry || out.ReportKey == "" || len(st.written()) != 1 {
		t.Fatalf("reports %d, retry %v, report %q; want one report, retried", len(out.Reports), retry, out.ReportKey)
	}
	if tg := out.Reports[0].Targets[0]; (tg.State != fanout.Failed && tg.State != fanout.NotStarted) || tg.Error == nil || !tg.Error.Transient {
		t.Errorf("target %s %+v; want failed or not_started, transient", tg.State, tg.Error)
	}
}
