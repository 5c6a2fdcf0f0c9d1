package cloud

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/certdrop/certdrop/shared/failure"
)

// Error is a failed API call. Callers branch on Class (through
// failure.ClassifiedError) and show Error() to people. No field ever holds
// the private key, the AccessKey secret or the security token: messages
// are scrubbed of them before an Error is built.
type Error struct {
	// API is the action called, Domain the DomainName it was called for.
	API    string
	Domain string
	// Code is the OpenAPI error code ("Certificate.MissMatch"); empty for
	// network errors, timeouts and cancellation.
	Code string
	// Message is the API's own message, or the network error's.
	Message string
	// Hint says what a person can do; empty when the code is unknown.
	Hint string
	// RequestID is the API's RequestId, when it answered.
	RequestID string
	// HTTPStatus is the answer's status; 0 when there was no answer.
	HTTPStatus int

	class      failure.Class
	retryAfter time.Duration
	// err is the cause for errors.Is / errors.As: context.Canceled,
	// context.DeadlineExceeded, a net.Error. Never an SDK error, whose
	// text may quote the request.
	err error
}

// Error renders "API domain: Code (HTTP 400, RequestId X): message; hint".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.API)
	if e.Domain != "" {
		b.WriteString(" " + e.Domain)
	}
	b.WriteString(": ")
	if e.Code != "" {
		b.WriteString(e.Code + " ")
	}
	var meta []string
	if e.HTTPStatus != 0 {
		meta = append(meta, "HTTP "+strconv.Itoa(e.HTTPStatus))
	}
	if e.RequestID != "" {
		meta = append(meta, "RequestId "+e.RequestID)
	}
	if len(meta) > 0 {
		b.WriteString("(" + strings.Join(meta, ", ") + ") ")
	}
	s := strings.TrimSpace(b.String())
	if e.Message != "" {
		if !strings.HasSuffix(s, ":") {
			s += ":"
		}
		s += " " + e.Message
	}
	if e.Hint != "" {
		s = strings.TrimRight(s, ".") + "; " + e.Hint
	}
	return s
}

// Class says how the fan-out treats the error.
func (e *Error) Class() failure.Class { return e.class }

// RetryAfter is the server's hint of when to try again (from
// x-ratelimit-user-api / x-ratelimit-user TimeLeft, or Retry-After); 0
// when none.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// APIRequestID returns the RequestId, for the fan-out's report.
func (e *Error) APIRequestID() string { return e.RequestID }

// Unwrap returns the cause: a context or network error, or nil.
func (e *Error) Unwrap() error { return e.err }

// Temporary reports whether retrying may help (throttled or transient).
func (e *Error) Temporary() bool {
	return e.class == failure.Throttled || e.class == failure.Transient
}

// responseMeta is what the transport saw of the answer.
type responseMeta struct {
	status int
	header http.Header
}

// convert turns whatever CallApiWithCtx returned into an *Error, the
// caller's own answers first.
func convert(ctx context.Context, api, domain string, err error, meta *responseMeta, red redactor, own answers) *Error {
	e := &Error{API: api, Domain: domain}
	if meta != nil {
		e.HTTPStatus = meta.status
	}
	var ce *openapi.ClientError
	var se *openapi.ServerError
	var te *openapi.ThrottlingError
	var cred *credentialError
	switch {
	case errors.As(err, &te):
		e.fromResponse(dara.StringValue(te.Code), dara.IntValue(te.StatusCode), dara.StringValue(te.RequestId), te.Data, own)
		if ms := dara.Int64Value(te.RetryAfter); ms > 0 {
			e.retryAfter = time.Duration(ms) * time.Millisecond
		}
	case errors.As(err, &ce):
		e.fromResponse(dara.StringValue(ce.Code), dara.IntValue(ce.StatusCode), dara.StringValue(ce.RequestId), ce.Data, own)
	case errors.As(err, &se):
		e.fromResponse(dara.StringValue(se.Code), dara.IntValue(se.StatusCode), dara.StringValue(se.RequestId), se.Data, own)
	case errors.As(err, &cred):
		e.class, e.Message = failure.Auth, cred.Error()
		e.Hint = "check the credentials: the run cannot make any call without them"
	case ctx.Err() != nil:
		// Cancellation or the caller's deadline: report it as such, whatever
		// the transport made of it.
		e.class, e.err = failure.Transient, ctx.Err()
		e.Message = ctx.Err().Error()
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			e.Message += " (" + cause.Error() + ")"
		}
	default:
		// Network errors, timeouts, an answer that is not JSON. Only a
		// net.Error is kept as the cause: other errors' text is not ours.
		e.class = failure.Transient
		var ne net.Error
		if errors.As(err, &ne) {
			e.err = ne
		}
		e.Message = err.Error()
		if meta != nil && meta.status >= 200 && meta.status < 300 {
			e.Message = "the answer could not be read: " + e.Message
		}
		e.Hint = "a network error or timeout: certdrop retries"
		var cve *tls.CertificateVerificationError
		if errors.As(err, &cve) {
			// Retrying cannot make an untrusted endpoint trusted.
			e.class = failure.Permanent
			e.Hint = "the endpoint's TLS certificate is not trusted: check the endpoint (a proxy intercepting TLS?)"
		}
	}
	if e.class == failure.Throttled && e.retryAfter == 0 && meta != nil {
		e.retryAfter = retryAfterHeader(meta.header)
	}
	// One line: a report shows one error per target.
	e.Message = strings.Join(strings.Fields(red.scrub(e.Message)), " ")
	return e
}

// fromResponse fills an error from an OpenAPI error answer.
func (e *Error) fromResponse(code string, status int, requestID string, data map[string]any, own answers) {
	e.Code, e.HTTPStatus, e.RequestID = code, status, requestID
	if m, ok := data["Message"].(string); ok {
		e.Message = m
	} else if m, ok := data["message"].(string); ok {
		e.Message = m
	}
	if e.RequestID == "" {
		e.RequestID, _ = data["RequestId"].(string)
	}
	e.class, e.Hint = classify(code, status, own.codes)
	if own.hint != nil {
		if h := own.hint(code); h != "" {
			e.Hint = h
		}
	}
}

// retryAfterHeader reads the server's hint: the larger TimeLeft (ms) of
// x-ratelimit-user-api and x-ratelimit-user ("Limit:30,Remain:0,TimeLeft:350,Reset:..."),
// else Retry-After in seconds.
func retryAfterHeader(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	var best time.Duration
	for _, name := range []string{"x-ratelimit-user-api", "x-ratelimit-user"} {
		for _, pair := range strings.Split(h.Get(name), ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), ":")
			if !ok || k != "TimeLeft" {
				continue
			}
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && time.Duration(ms)*time.Millisecond > best {
				best = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if best == 0 {
		if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
			best = time.Duration(s) * time.Second
		}
	}
	return best
}

// errorf builds a permanent client-side Error (bad input, before any call).
func errorf(api, domain, format string, args ...any) *Error {
	return &Error{API: api, Domain: domain, Message: fmt.Sprintf(format, args...), class: failure.Permanent}
}

// APICode returns the OpenAPI error code (report.APIError).
func (e *Error) APICode() string { return e.Code }

// APIMessage returns the API's message (report.APIError).
func (e *Error) APIMessage() string { return e.Message }

// APIHint returns what a person can do (report.APIError).
func (e *Error) APIHint() string { return e.Hint }

// RequestIDOf returns the RequestId an *Error in err's chain carries; ""
// when none.
func RequestIDOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.RequestID
	}
	return ""
}

// Errorf builds a permanent Error of api about subject, for a product: an
// answer it cannot read, a target it cannot call.
func Errorf(api, subject, format string, args ...any) *Error {
	return errorf(api, subject, format, args...)
}

// CodeOf returns the API error code err carries (a *Error's, or any
// error's in its chain that says its APICode), "" when none.
func CodeOf(err error) string {
	var c interface{ APICode() string }
	if errors.As(err, &c) {
		return c.APICode()
	}
	return ""
}
