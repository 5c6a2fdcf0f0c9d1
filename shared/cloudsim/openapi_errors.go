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

// apiErrorTable holds the status and message of every code the emulator
// answers. Messages of the certificate codes are those of the vendor's
// reference documents (CDN and VOD wording; liveMessages has Live's).
func apiErrorTable() map[string]knownError {
	return map[string]knownError{
		// Gateway: authentication, routing, quota.
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
		"MissingDomainName":                          {400, "DomainName is mandatory for this action."},
		"MissingSSLProtocol":                         {400, "SSLProtocol is mandatory for this action."},
		"MissingServerCertificateStatus":             {400, "ServerCertificateStatus is mandatory for this action."},

		// Domain state.
		"InvalidDomain.NotFound":  {404, "The domain provided does not belong to you."},
		"InvalidDomain.Offline":   {400, "The domain provided is offline."},
		"InvalidDomain.notOnline": {400, "The domain is offline. Check the status of the domain and try again later."},
		"DomainInSafeMode":        {400, "The domain is in safe mode. To request permission, contact Customer Service."},
		"DomainInProtectedMode":   {403, "The domain is in protection mode. To request permission, contact Customer Service."},

		// Certificate parameters (reference documents 000, 002, 003, 004).
		"InvalidSSLProtocol.ValueNotSupported": {400, "The specified SSLProtocol is invalid."},
		"SSLPub.MissingParameter":              {400, "The SSLPub parameter is required."},
		"SSLPri.MissingParameter":              {400, "The SSLPri parameter is required."},
		"InvalidSSLPub":                        {400, "The specified SSLPub is invalid."},
		"InvalidSSLPri":                        {400, "The specified SSLPri is invalid."},
		"Certificate.MissMatch":                {400, "The SSLPri does not match the certificate."},
		"InvalidCertificate.TooLong":           {400, "The maximum length of the certificate is exceeded."},
		"InvalidCertName.TooLong":              {400, "The length of the certificate name cannot exceed 128 characters."},
		"SetDomainCertificate.ParameterError":  {400, "The specified parameters are invalid."},
		"Certificate.NotFind":                  {400, "The certificate does not exist."},
		"Certificate.Duplicated":               {400, "The certificate name already exists."},
		"Certificate.FormatError":              {400, "The format of the certificate is invalid."},
		"Certificate.KeyNull":                  {400, "The private key is required."},
		"Certificate.Expired":                  {400, "The certificate has expired."},
		"CertStorage.failed":                   {400, "Error saving the certificate."},
		"CreateCertificateFailed":              {400, "Create certificate failed,please try again."},
		"Abs.CertRegion.ValueNotSupported":     {400, "CertRegion is not supported."},
		"InvalidEnv":                           {400, "The specified Env is invalid."},
		"CertName.MissingParameter":            {404, "You must specify CertName."},

		// Certificate Management Service (cas.go: the emulator's choices).
		"MissingName":               {400, "Name is mandatory for this action."},
		"MissingCert":               {400, "Cert is mandatory for this action."},
		"MissingKey":                {400, "Key is mandatory for this action."},
		"MissingCertId":             {400, "CertId is mandatory for this action."},
		"Key.Malformed":             {400, "The specified Key format is invalid."},
		"CertNameAlreadyExists":     {400, "The CertName already exists."},
		"QuotaExceeded.Certificate": {400, "The number of certificates exceeds the quota."},
		"NotFound":                  {400, "The certificate does not exist."},

		// Alibaba Cloud DNS (alidns.go lists the sources).
		"InvalidDomainName.NoExist":   {400, "The specified domain name does not exist. Refresh the page and try again."},
		"IncorrectDomainUser":         {400, "The domain name does not belong to this user."},
		"InvalidDomainName.Format":    {400, "The format of domain is error."},
		"QuotaExceeded.StringLength":  {400, "You Can't finish this operation because the input string length has been out of MAX count."},
		"DomainRecordDuplicate":       {400, "The domain record is duplicated."},
		"DomainRecordConflict":        {400, "The domain record is conflict with other records."},
		"DomainRecordNotBelongToUser": {400, "The domain record does not belong to this user."},
		"QuotaExceeded.TTL":           {400, "The specified TTL is invalid. A valid TTL must be in the range of 600 to 86400."},
		"QuotaExceeded.Record":        {400, "You Can't add this domain record because the record has been out of MAX count (90)."},
		"LastOperationNotFinished":    {400, "The last operation is not finished. Try again later."},
		"InvalidParameter":            {400, "The specified parameter is invalid."},
		"MissingRR":                   {400, "RR is mandatory for this action."},
		"MissingType":                 {400, "Type is mandatory for this action."},
		"MissingValue":                {400, "Value is mandatory for this action."},
		"MissingRecordId":             {400, "RecordId is mandatory for this action."},
		"MissingSubDomain":            {400, "SubDomain is mandatory for this action."},
		"MissingInputString":          {400, "InputString is mandatory for this action."},
	}
}

// liveMessages are the messages the Live reference document gives where
// they differ from CDN's.
func liveMessages() map[string]string {
	return map[string]string{
		"InvalidSSLProtocol.ValueNotSupported": "The specified value of parameter SSLProtocol is not supported.",
		"SSLPub.MissingParameter":              `An input parameter "SSLPub" that is mandatory for processing the request is not supplied.`,
		"SSLPri.MissingParameter":              `An input parameter "SSLPri" that is mandatory for processing the request is not supplied.`,
		"InvalidSSLPub":                        "The SSLPub you provided is malformed!",
		"InvalidSSLPri":                        "The SSLPri you provided is malformed!",
		"Certificate.MissMatch":                "The SSLPri does not math the specified Certificate!",
		"InvalidCertificate.TooLong":           "The Certificate you provided is over the max length!",
		"InvalidCertName.TooLong":              "The Certificate name you provided is over the max length 128!",
		"Certificate.Duplicated":               "The certificate name is duplicated.",
		"Certificate.Expired":                  "The certificate is expired.",
		"InvalidDomain.notOnline":              "The domain is not online, please check the domain status and try again later.",
		"DomainInSafeMode":                     "This domain is in the safe mode. if you want to do this operation, please contact us!",
	}
}

// newAPIError builds the answer for code in product's wording. Unknown
// codes are answered with status 400 (500 for codes ending in "Error"
// would be a guess, so scripted faults name their status).
func newAPIError(product, code string) *apiError {
	k, ok := apiErrorTable()[code]
	if !ok {
		k = knownError{http.StatusBadRequest, code}
	}
	msg := k.message
	if product == ProductLive {
		if m, ok := liveMessages()[code]; ok {
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
