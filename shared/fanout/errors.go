package fanout

import (
	"context"
	"errors"
	"net"
	"time"
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
func classify(err error) (Class, time.Duration) {
	var ce ClassifiedError
	if errors.As(err, &ce) {
		return ce.Class(), ce.RetryAfter()
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return Transient, 0
	}
	return Permanent, 0
}
