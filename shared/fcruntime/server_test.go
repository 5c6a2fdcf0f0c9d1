package fcruntime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/testutil"
)

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, inv *Invocation) ([]byte, bool)

func (f handlerFunc) Invoke(ctx context.Context, inv *Invocation) ([]byte, bool) { return f(ctx, inv) }

func TestInvoke(t *testing.T) {
	var logs testutil.Buffer
	var got *Invocation
	s := &Server{
		Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Handler: handlerFunc(func(ctx context.Context, inv *Invocation) ([]byte, bool) {
			got = inv
			inv.Log.Info("working", "secretSeen", inv.Credentials)
			return []byte(`{"ok":` + string(inv.Body) + `}`), string(inv.Body) == "false"
		}),
		Now: func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) },
	}
	tests := []struct {
		body       string
		wantStatus int
		wantFCErr  string
	}{
		{"true", 200, ""},
		{"false", 404, "404"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(tt.body))
		req.Header.Set(HeaderRequestID, "req-"+tt.body)
		req.Header.Set(HeaderAccessKeyID, "STS.id")
		req.Header.Set(HeaderAccessKeySecret, "very-secret")
		req.Header.Set(HeaderSecurityToken, "token-xyz")
		req.Header.Set(HeaderFunctionTimeout, "900")
		req.Header.Set(HeaderRetryCount, "2")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tt.wantStatus || rec.Header().Get(HeaderStatus) != tt.wantFCErr || rec.Body.String() != `{"ok":`+tt.body+`}` {
			t.Errorf("%s: %d %q %q", tt.body, rec.Code, rec.Header().Get(HeaderStatus), rec.Body.String())
		}
	}
	if got.RequestID != "req-false" || got.Credentials == nil || got.Credentials.AccessKeySecret != "very-secret" ||
		got.Credentials.SecurityToken != "token-xyz" || got.Timeout != 900*time.Second || got.RetryCount != 2 ||
		!got.Deadline().Equal(time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)) {
		t.Errorf("invocation = %+v", got)
	}
	out := logs.String()
	if strings.Contains(out, "very-secret") || strings.Contains(out, "token-xyz") {
		t.Fatal("the logs contain the credentials")
	}
	var starts, ends int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		id, _ := m["requestId"].(string)
		if !strings.HasPrefix(id, "req-") {
			t.Errorf("log line without the request id: %s", line)
		}
		msg, _ := m["msg"].(string)
		if msg == "FC Invoke Start RequestId: "+id {
			starts++
		}
		if msg == "FC Invoke End RequestId: "+id {
			ends++
		}
	}
	if starts != 2 || ends != 2 {
		t.Errorf("%d start and %d end lines, want 2 each", starts, ends)
	}
}

func TestRoutes(t *testing.T) {
	initialized := false
	s := &Server{Handler: initHandler{&initialized}}
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/initialize", 200},
		{http.MethodGet, "/pre-stop", 200},
		{http.MethodGet, "/pre-freeze", 200},
		{http.MethodGet, "/invoke", 404},
		{http.MethodPost, "/other", 404},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
	if !initialized {
		t.Error("POST /initialize did not call Initialize")
	}
	failing := &Server{Handler: initHandler{nil}}
	rec := httptest.NewRecorder()
	failing.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/initialize", nil))
	if rec.Code != 404 || rec.Header().Get(HeaderStatus) != "404" {
		t.Errorf("failed initialize answered %d %q", rec.Code, rec.Header().Get(HeaderStatus))
	}
}

type initHandler struct{ done *bool }

func (h initHandler) Invoke(context.Context, *Invocation) ([]byte, bool) { return nil, false }
func (h initHandler) Initialize(context.Context, *Invocation) error {
	if h.done == nil {
		return errors.New("no roots")
	}
	*h.done = true
	return nil
}

// TestOversizedEvent: an event over MaxEventSize is a bad event like any
// other, answered by the handler (written, alerted, not retried), not
// with a 404 before the handler (FC would retry it three times, nothing
// written or alerted). The body is not read past the cap.
func TestOversizedEvent(t *testing.T) {
	for _, tt := range []struct {
		name    string
		size    int
		tooBig  bool
		bodyLen int
	}{
		{"at the cap", MaxEventSize, false, MaxEventSize},
		{"one byte over", MaxEventSize + 1, true, 0},
		{"far over", 64 * MaxEventSize, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *Invocation
			s := &Server{Handler: handlerFunc(func(_ context.Context, inv *Invocation) ([]byte, bool) { got = inv; return []byte(`{}`), false })}
			rec := httptest.NewRecorder()
			body := &countingReader{r: io.LimitReader(zeros{}, int64(tt.size))}
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invoke", body))
			if got == nil || rec.Code != 200 || rec.Header().Get(HeaderStatus) != "" {
				t.Fatalf("handler called %v, answered %d %q; want the handler's answer", got != nil, rec.Code, rec.Header().Get(HeaderStatus))
			}
			if errors.Is(got.BodyError, ErrEventTooLarge) != tt.tooBig || len(got.Body) != tt.bodyLen {
				t.Errorf("body error %v, %d bytes; want too large %v, %d bytes", got.BodyError, len(got.Body), tt.tooBig, tt.bodyLen)
			}
			if tt.tooBig && got.BodyError.Error() != "event of more than 1048576 bytes" {
				t.Errorf("body error %q", got.BodyError)
			}
			if body.n > MaxEventSize+1+32<<10 {
				t.Errorf("read %d bytes of the body: more than the cap", body.n)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestListenAddr(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		env  map[string]string
		want string
	}{
		// Outside Function Compute: loopback only, whatever the port says.
		{nil, "127.0.0.1:9000"},
		{map[string]string{"FC_SERVER_PORT": "9100"}, "127.0.0.1:9100"},
		{map[string]string{"FC_CUSTOM_LISTEN_PORT": "8080"}, "127.0.0.1:8080"},
		// Inside (FC sets FC_FUNCTION_NAME): all interfaces, as FC requires.
		{map[string]string{"FC_FUNCTION_NAME": "certdrop"}, "0.0.0.0:9000"},
		{map[string]string{"FC_FUNCTION_NAME": "certdrop", "FC_SERVER_PORT": "9100"}, "0.0.0.0:9100"},
		{map[string]string{"FC_FUNCTION_NAME": "certdrop", "FC_CUSTOM_LISTEN_PORT": "8080", "FC_SERVER_PORT": "9100"}, "0.0.0.0:8080"},
		{map[string]string{"FC_FUNCTION_NAME": "certdrop", "FC_CUSTOM_LISTEN_PORT": "x"}, "0.0.0.0:9000"},
	}
	for _, tt := range tests {
		if got := ListenAddr(env(tt.env)); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.env, got, tt.want)
		}
	}
}

// TestGracefulShutdown: a SIGTERM (ctx canceled) while an invocation runs
// lets it finish and answer before Serve returns.
func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := &Server{Handler: handlerFunc(func(context.Context, *Invocation) ([]byte, bool) {
		close(started)
		<-release
		return []byte(`"done"`), false
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()

	type answer struct {
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post("http://"+l.Addr().String()+"/invoke", "application/json", strings.NewReader("{}"))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{string(b), err}
	}()
	<-started
	cancel()
	// Shutdown has begun once the listener refuses new connections.
	for {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		runtimeGosched()
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned with an invocation in flight: %v", err)
	default:
	}
	close(release)
	if a := <-answered; a.err != nil || a.body != `"done"` {
		t.Fatalf("in-flight invocation: %q %v", a.body, a.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func runtimeGosched() { time.Sleep(time.Millisecond) }

// A failure's answer is JSON whatever the error says: FC hands it to the
// caller, and the on-failure destination, as the invocation's result.
func TestFailureBodyIsJSON(t *testing.T) {
	msg := "endpoint \"x\"\x01\ttab \xff"
	s := &Server{Handler: failingInit(msg)}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/initialize", nil))
	var got struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !strings.HasPrefix(got.Error, "endpoint \"x\"\x01\ttab ") {
		t.Errorf("failed initialize answered %q: %v (decoded %q)", rec.Body.String(), err, got.Error)
	}
}

type failingInit string

func (failingInit) Invoke(context.Context, *Invocation) ([]byte, bool) { return nil, false }
func (f failingInit) Initialize(context.Context, *Invocation) error    { return errors.New(string(f)) }
