package fanout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/failure"
)

// StopError says why the run stopped before a target was started or
// finished: the deadline, an auth failure elsewhere, a failed canary.
type StopError struct {
	// Code is a short machine-readable reason: "Deadline", "AuthFailed",
	// "CanaryFailed", "Canceled".
	Code string
	// Message says what happened, for a person.
	Message string
	// Cause is the error that stopped the run, when there is one.
	Cause error
}

// Error returns the message.
func (e *StopError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *StopError) Unwrap() error { return e.Cause }

// VerifyError says that Describe, after a successful Set, did not show the
// new certificate on the domain.
type VerifyError struct {
	// Found is what the domain carries instead.
	Found Installed
	// Want is the CertName that was set.
	Want string
}

// Error describes the mismatch.
func (e *VerifyError) Error() string {
	found := e.Found.CertName
	if found == "" {
		found = "no certificate"
	}
	return "after a successful Set the domain still shows " + found + ", not " + e.Want
}

// classify returns an error's class and retry-after hint. Errors that do not
// classify themselves are transient when they come from the network or a
// timeout, and permanent otherwise.
func classify(err error) (failure.Class, time.Duration) {
	var ce failure.ClassifiedError
	if errors.As(err, &ce) {
		return ce.Class(), ce.RetryAfter()
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return failure.Transient, 0
	}
	return failure.Permanent, 0
}

// NotSentError fails a target whose call was not sent because another call
// of the same API was answered with an error every call of that API would
// get (the certificate refused, the permission missing). It unwraps to
// that answer, so the target reports the same code and hint.
type NotSentError struct {
	// API is the action; Domain the target whose call got the answer.
	API, Domain string
	Err         error
}

// Error says what was answered, for which domain, and that this target's
// call was not sent.
func (e *NotSentError) Error() string {
	return e.Err.Error() + " (answered to " + e.API + " for " + e.Domain + "; not sent for this target)"
}

// Unwrap returns the answer.
func (e *NotSentError) Unwrap() error { return e.Err }

// PanicError is a target failed by a panic (in the client or the fan-out)
// instead of the process dying with no report.
type PanicError struct {
	// Value describes the panic's value, shortened, never holding PEM.
	Value string
}

// Error says that the target's work panicked.
func (e *PanicError) Error() string { return "internal error: the call panicked: " + e.Value }

// Class: retrying a panicking call is unlikely to help.
func (e *PanicError) Class() failure.Class { return failure.Permanent }

// RetryAfter has no hint.
func (e *PanicError) RetryAfter() time.Duration { return 0 }

// newPanicError describes a recovered value: at most 200 bytes of it, and
// nothing at all when it looks like it quotes key material.
func newPanicError(v any) *PanicError {
	s := fmt.Sprint(v)
	if strings.Contains(s, "-----BEGIN") || strings.Contains(strings.ToUpper(s), "PRIVATE KEY") {
		s = fmt.Sprintf("a %T (its text is withheld: it may quote key material)", v)
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return &PanicError{Value: s}
}
