package fcruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// MaxEventSize caps an invocation body. FC's async payload limit is
// 128 KB; anything far larger is not an event.
const MaxEventSize = 1 << 20

// ErrEventTooLarge is the error of a body over MaxEventSize.
var ErrEventTooLarge = fmt.Errorf("event of more than %d bytes", MaxEventSize)

// ReadEvent reads an event body, at most MaxEventSize bytes of it: a
// longer body is not read further and fails with ErrEventTooLarge.
func ReadEvent(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxEventSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxEventSize {
		return nil, ErrEventTooLarge
	}
	return body, nil
}

// Handler does the function's work. Invoke returns the response body (the
// run's report) and whether the invocation failed: a failed invocation is
// answered 404 with x-fc-status: 404 so that FC retries it and fires the
// on-failure destination.
type Handler interface {
	Invoke(ctx context.Context, inv *Invocation) (body []byte, failed bool)
}

// Initializer is implemented by handlers with warm-up work (POST
// /initialize): loading roots, building clients.
type Initializer interface {
	Initialize(ctx context.Context, inv *Invocation) error
}

// Server is the custom-runtime HTTP server.
type Server struct {
	Handler Handler
	// Log is the base logger; every invocation's lines add its request id.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	wg sync.WaitGroup
}

// InsideFC reports whether the process runs inside Function Compute: FC
// sets FC_FUNCTION_NAME in every function's environment.
func InsideFC(getenv func(string) string) bool { return getenv("FC_FUNCTION_NAME") != "" }

// ListenAddr returns the address to serve on. Inside Function Compute
// (InsideFC) it is 0.0.0.0, as FC requires, at FC_CUSTOM_LISTEN_PORT, else
// FC_SERVER_PORT, else 9000. Anywhere else the host is 127.0.0.1: an
// invocation without x-fc-* headers signs with whatever credentials the
// machine has, so the server must not be reachable from the network unless
// someone asks for it with --listen.
func ListenAddr(getenv func(string) string) string {
	host := "127.0.0.1"
	if InsideFC(getenv) {
		host = "0.0.0.0"
	}
	port := "9000"
	for _, k := range []string{"FC_CUSTOM_LISTEN_PORT", "FC_SERVER_PORT"} {
		if p := getenv(k); p != "" {
			if _, err := strconv.Atoi(p); err == nil {
				port = p
				break
			}
		}
	}
	return net.JoinHostPort(host, port)
}

// ServeHTTP routes FC's calls: POST /invoke, POST /initialize, GET /pre-stop
// (and /pre-freeze).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/invoke" && r.Method == http.MethodPost:
		s.invoke(w, r)
	case r.URL.Path == "/initialize" && r.Method == http.MethodPost:
		s.initialize(w, r)
	case (r.URL.Path == "/pre-stop" || r.URL.Path == "/pre-freeze") && r.Method == http.MethodGet:
		s.log().Info("lifecycle hook", "path", r.URL.Path, "requestId", r.Header.Get(HeaderRequestID))
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "certdrop: unknown path or method", http.StatusNotFound)
	}
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	received := s.now()
	body, err := ReadEvent(r.Body)
	inv := invocationFrom(r, body, received, s.log())
	inv.Log.Info("FC Invoke Start RequestId: "+inv.RequestID, "retryCount", inv.RetryCount, "timeout", inv.Timeout.String())
	defer func() {
		inv.Log.Info("FC Invoke End RequestId: "+inv.RequestID, "ms", s.now().Sub(received).Milliseconds())
	}()
	switch {
	case errors.Is(err, ErrEventTooLarge):
		// A bad event, however large: the handler answers it (written,
		// alerted, not retried: a retry carries the same body).
		inv.BodyError = err
	case err != nil:
		// The body did not arrive whole: FC may deliver it next time.
		inv.Log.Error("cannot read the event", "error", err.Error())
		fail(w, errorBody(err))
		return
	}
	// The handler runs under the request's context, which ends when FC
	// gives up on the invocation; its own deadline comes from inv.
	out, failed := s.Handler.Invoke(r.Context(), inv)
	if failed {
		fail(w, out)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func (s *Server) initialize(w http.ResponseWriter, r *http.Request) {
	inv := invocationFrom(r, nil, s.now(), s.log())
	inv.Log.Info("FC Initialize Start RequestId: " + inv.RequestID)
	if in, ok := s.Handler.(Initializer); ok {
		if err := in.Initialize(r.Context(), inv); err != nil {
			inv.Log.Error("initialize failed", "error", err.Error())
			fail(w, errorBody(err))
			return
		}
	}
	inv.Log.Info("FC Initialize End RequestId: " + inv.RequestID)
	w.WriteHeader(http.StatusOK)
}

// errorBody is the JSON answer {"error": "..."} for err. It is encoded
// as JSON, not with Go's %q, whose escapes (\x01) JSON does not have.
func errorBody(err error) []byte {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{err.Error()})
	return body
}

// fail answers an invocation as failed in the way FC recognises.
func fail(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderStatus, "404")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}

// Serve accepts connections on l until ctx ends (SIGTERM), then shuts down
// gracefully: the invocation in flight finishes and is answered.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log().Info("shutting down: finishing the invocation in flight")
	// FC allows the pre-stop hook and a grace period; an invocation may run
	// up to its own timeout, so wait for it rather than cut it.
	shutdownCtx := context.WithoutCancel(ctx)
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.wg.Wait()
	return nil
}
