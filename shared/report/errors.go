package report

import (
	"errors"
	"strings"

	"github.com/certdrop/certdrop/shared/fanout"
)

// stopHints say what to do about each way a run stops.
var stopHints = map[string]string{
	"Deadline":     "the function's time ran out: the next run (the async retry or the timer's reconcile) picks this target up",
	"AuthFailed":   "the credentials were refused (unknown or disabled AccessKey, wrong secret, expired STS token, or this machine's clock): fix them and run again",
	"CanaryFailed": "fix what failed on the canary targets, then run again",
	"Canceled":     "the run was interrupted; run it again",
}

// transientStops are the stop codes a later run can get past unchanged.
var transientStops = map[string]bool{"Deadline": true, "Canceled": true}

// APIError is an error an API client returns with the vendor's answer. The
// report reads the code, message and hint through it, so that it depends
// on no client package (cloud's *Error implements it).
type APIError interface {
	error
	// APICode is the vendor's error code; "" for a network error or timeout.
	APICode() string
	// APIMessage is the vendor's message, or the network error's.
	APIMessage() string
	// APIHint says what a person can do; "" when nothing specific.
	APIHint() string
}

// temporary is implemented by errors that know whether a retry may help
// (throttled, 5xx, network).
type temporary interface{ Temporary() bool }

// errorOf renders a target's error for the report. The message is the
// whole chain, so a retried target that then hit the deadline says both.
func errorOf(err error) *Error {
	var (
		se *fanout.StopError
		ve *fanout.VerifyError
		ae APIError
		tp temporary
		pe *fanout.PanicError
	)
	transient := errors.As(err, &tp) && tp.Temporary()
	var (
		ue *fanout.UploadError
		nt *fanout.NameTakenError
		ac *fanout.AccountError
	)
	switch {
	case errors.As(err, &ac):
		// The refusal's own answer (NoPermission, EntityNotExist.Role),
		// with the whole story as the message.
		e := errorOf(ac.Err)
		if e.Code == "" || e.Code == "Error" {
			e.Code = "AccountUnavailable"
		}
		e.Message = err.Error()
		return e
	case errors.As(err, &ue):
		// The upload's own answer, with the whole story as the message.
		e := errorOf(ue.Err)
		e.Message = err.Error()
		return e
	case errors.As(err, &nt):
		return &Error{Code: "CASNameTaken", Message: err.Error(),
			Hint: "another certificate has certdrop's name for this one in CAS: delete or rename it there, then run again"}
	case errors.As(err, &ae):
		code := ae.APICode()
		if code == "" {
			code = "NetworkError"
		}
		// The code and hint have fields of their own; the message is the
		// API's, plus whatever the fan-out added (a stop after retries).
		msg := ae.APIMessage() + strings.TrimPrefix(err.Error(), ae.Error())
		return &Error{Code: code, Message: msg, Hint: ae.APIHint(), Transient: transient}
	case errors.As(err, &se):
		return &Error{Code: se.Code, Message: err.Error(), Hint: stopHints[se.Code],
			Transient: transientStops[se.Code] || transient}
	case errors.As(err, &pe):
		return &Error{Code: "Panic", Message: err.Error(),
			Hint: "a bug in certdrop or its SDK: the target was not set; report it with the log of this run"}
	case errors.As(err, &ve):
		return &Error{Code: "VerifyFailed", Message: err.Error(),
			Hint: "the API accepted the certificate but Describe does not show it: check the domain in the console"}
	}
	return &Error{Code: "Error", Message: err.Error(), Transient: transient}
}
