package report

import (
	"errors"

	"github.com/certdrop/certdrop/shared/fanout"
)

// stopHints say what to do about each way a run stops.
var stopHints = map[string]string{
	"Deadline":     "the function's time ran out: the next run (the async retry or the timer's reconcile) picks this target up",
	"AuthFailed":   "check the credentials and that the role has the RAM policy in deploy/ram-policy.json",
	"CanaryFailed": "fix what failed on the canary targets, then run again",
	"Canceled":     "the run was interrupted; run it again",
}

// apiError is implemented by the cloud clients' errors.
type apiError interface {
	APICode() string
	APIMessage() string
	APIHint() string
}

// errorOf renders a target's error for the report. The message is the
// whole chain, so a retried target that then hit the deadline says both.
func errorOf(err error) *Error {
	var (
		se *fanout.StopError
		ve *fanout.VerifyError
		ae apiError
	)
	switch {
	case errors.As(err, &ae):
		return &Error{Code: ae.APICode(), Message: err.Error(), Hint: ae.APIHint()}
	case errors.As(err, &se):
		return &Error{Code: se.Code, Message: err.Error(), Hint: stopHints[se.Code]}
	case errors.As(err, &ve):
		return &Error{Code: "VerifyFailed", Message: err.Error(),
			Hint: "the API accepted the certificate but Describe does not show it: check the domain in the console"}
	}
	return &Error{Code: "Error", Message: err.Error()}
}
