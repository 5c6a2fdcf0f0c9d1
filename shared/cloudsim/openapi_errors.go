package cloudsim

import (
	"fmt"
	"net/http"
)

// apiError is an OpenAPI error answer: HTTP status, Code and Message, as
// the real services put them in their JSON error body.
type apiError struct {
	status  int
	code    string
	message string
	// rate, when set, is sent as the x-ratelimit-user-api header.
	rate *rateInfo
}

// Error renders status, code and message.
func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

// knownError is the status and message the emulator answers a code with.
type knownError struct {
	status  int
	message string
}

// gatewayErrors holds the status and message of the codes the OpenAPI
// gateway answers for every product: authentication, routing, quota and
// server failures. Each product's file adds its own (productSpec.errors).
func gatewayErrors() map[string]knownError {
	return map[string]knownError{
		"SignatureDoesNotMatch":                      {400, "Specified signature does not match our calculation."},
		"IncompleteSignature":                        {400, "The request signature does not conform to Aliyun standards."},
		"InvalidAccessKeyId.NotFound":                {404, "Specified access key is not found."},
		"InvalidAccessKeyId.Inactive":                {400, "Specified access key is disabled."},
		"InvalidSecurityToken.Expired":               {400, "Specified SecurityToken is expired."},
		"InvalidSecurityToken.Malformed":             {400, "Specified SecurityToken is malformed."},
		"InvalidSecurityToken.MismatchWithAccessKey": {400, "Specified SecurityToken mismatch with the AccessKey."},
		"InvalidTimeStamp.Expired":                   {400, "Specified time stamp or date value is expired."},
		"SignatureNonceUsed":                         {400, "Specified signature nonce was used already."},
		"Forbidden.RAM":                              {403, "User not authorized to operate on the specified resource, or this API doesn't support RAM."},
		"InvalidAction.NotFound":                     {404, "Specified api is not found, please check your url and method."},
		"InvalidVersion":                             {400, "Specified parameter Version is not valid."},
		"Throttling.User":                            {400, "Request was denied due to user flow control."},
		"Throttling.Api":                             {400, "Request was denied due to api flow control."},
		"Throttling":                                 {400, "Request was denied due to request throttling."},
		"Rejected.Throttling":                        {429, "Request was denied due to flow control."},
		"ServiceUnavailable":                         {503, "The request has failed due to a temporary failure of the server."},
		"InternalError":                              {500, "The request processing has failed due to some unknown error, exception or failure."},
		"ServiceBusy":                                {503, "The system is busy. Please try again later."},
	}
}

// newAPIError builds the answer for code in product's wording. Unknown
// codes are answered with status 400 (500 for codes ending in "Error"
// would be a guess, so scripted faults name their status).
func newAPIError(product, code string) *apiError {
	k, ok := catalog().errors[code]
	if !ok {
		k = knownError{http.StatusBadRequest, code}
	}
	msg := k.message
	if p := lookupProduct(product); p != nil {
		if m, ok := p.messages[code]; ok {
			msg = m
		}
	}
	return &apiError{status: k.status, code: code, message: msg}
}

// withMessage replaces the message.
func (e *apiError) withMessage(msg string) *apiError {
	e.message = msg
	return e
}
