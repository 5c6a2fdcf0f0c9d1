package report

import (
	"errors"
	"strings"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
)

// stopHints say what to do about each way a run stops.
var stopHints = map[string]string{
	"Deadline":     "the function's time ran out: the next run (the async retry or the timer's reconcile) picks this target up",
	"AuthFailed":   "the credentials were refused (unknown or disabled AccessKey, wrong secret, expired STS token, or this machine's clock): fix them and run again",
	"CanaryFailed": "fix what failed on the canary targets, then run again",
	"Canceled":     "the run was interrupted; run it again",
}

// errorOf renders a target's error for the report. The message is the
// whole chain, so a retried target that then hit the deadline says both.
func errorOf(err error) *Error {
	var (
		se *fanout.StopError
		ve *fanout.VerifyError
		ce *cloud.Error
		pe *fanout.PanicError
	)
	switch {
	case errors.As(err, &ce):
		code := ce.Code
		if code == "" {
			code = "NetworkError"
		}
		// The code and hint have fields of their own; the message is the
		// API's, plus whatever the fan-out added (a stop after retries).
		msg := ce.Message + strings.TrimPrefix(err.Error(), ce.Error())
		return &Error{Code: code, Message: msg, Hint: ce.Hint}
	case errors.As(err, &se):
		return &Error{Code: se.Code, Message: err.Error(), Hint: stopHints[se.Code]}
	case errors.As(err, &pe):
		return &Error{Code: "Panic", Message: err.Error(),
			Hint: "a bug in certdrop or its SDK: the target was not set; report it with the log of this run"}
	case errors.As(err, &ve):
		return &Error{Code: "VerifyFailed", Message: err.Error(),
			Hint: "the API accepted the certificate but Describe does not show it: check the domain in the console"}
	}
	return &Error{Code: "Error", Message: err.Error()}
}
