// Package fcruntime is Function Compute 3.0's custom-runtime contract on
// net/http: an HTTP server on the configured port that turns POST /invoke
// into a call of a Handler, and the handler's answer into the response FC
// expects. It knows nothing of certificates; the handler does the work.
package fcruntime

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Function Compute's request headers.
const (
	HeaderRequestID       = "x-fc-request-id"
	HeaderAccessKeyID     = "x-fc-access-key-id"
	HeaderAccessKeySecret = "x-fc-access-key-secret"
	HeaderSecurityToken   = "x-fc-security-token"
	HeaderFunctionTimeout = "x-fc-function-timeout"
	HeaderRetryCount      = "x-fc-retry-count"
	HeaderRegion          = "x-fc-region"
	HeaderAccountID       = "x-fc-account-id"
	HeaderFunctionName    = "x-fc-function-name"
	// HeaderStatus set to 404 on a response marks the invocation failed:
	// FC then counts the error, retries an async invocation and fires the
	// on-failure destination.
	HeaderStatus = "x-fc-status"
)

// Credentials are what FC passes in x-fc-access-key-id,
// x-fc-access-key-secret and x-fc-security-token: the function role's
// temporary AccessKey pair and its STS token. They print and log with the
// secret and token redacted; the handler hands them to whatever signs its
// calls.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Format prints the AccessKey ID only, for every verb.
func (c Credentials) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "Credentials{AccessKeyID: %s, AccessKeySecret: <redacted>}", c.AccessKeyID)
}

// LogValue logs the AccessKey ID only.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", c.AccessKeyID), slog.String("accessKeySecret", "<redacted>"))
}

// Invocation is one POST /invoke.
type Invocation struct {
	RequestID string
	// Body is the event, as FC delivered it; nil when BodyError is set.
	Body []byte
	// BodyError, when set, says why the body is not an event the handler
	// may parse (ErrEventTooLarge): the handler answers it as a bad event.
	BodyError error
	// Credentials are the function role's temporary credentials FC passes
	// with each invocation; nil when it passed none (no role configured, or
	// a local run). They print and log redacted.
	Credentials *Credentials
	// Timeout is the function's timeout from x-fc-function-timeout; 0
	// when FC did not say.
	Timeout time.Duration
	// Received is when the invocation arrived; the deadline counts from it.
	Received     time.Time
	RetryCount   int
	Region       string
	AccountID    string
	FunctionName string
	// Log carries the request id on every line.
	Log *slog.Logger
}

// Deadline is when FC stops the invocation: arrival plus the timeout, or
// the zero time when the timeout is unknown.
func (inv *Invocation) Deadline() time.Time {
	if inv.Timeout <= 0 {
		return time.Time{}
	}
	return inv.Received.Add(inv.Timeout)
}

// invocationFrom reads an invocation's metadata from FC's headers.
func invocationFrom(r *http.Request, body []byte, received time.Time, log *slog.Logger) *Invocation {
	h := r.Header
	inv := &Invocation{
		RequestID:    h.Get(HeaderRequestID),
		Body:         body,
		Received:     received,
		Region:       h.Get(HeaderRegion),
		AccountID:    h.Get(HeaderAccountID),
		FunctionName: h.Get(HeaderFunctionName),
	}
	if inv.RequestID == "" {
		inv.RequestID = "local-" + strconv.FormatInt(received.UnixNano(), 36)
	}
	if id, secret := h.Get(HeaderAccessKeyID), h.Get(HeaderAccessKeySecret); id != "" && secret != "" {
		inv.Credentials = &Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: h.Get(HeaderSecurityToken)}
	}
	if s, err := strconv.ParseFloat(h.Get(HeaderFunctionTimeout), 64); err == nil && s > 0 {
		inv.Timeout = time.Duration(s * float64(time.Second))
	}
	if n, err := strconv.Atoi(h.Get(HeaderRetryCount)); err == nil {
		inv.RetryCount = n
	}
	inv.Log = log.With("requestId", inv.RequestID)
	return inv
}
