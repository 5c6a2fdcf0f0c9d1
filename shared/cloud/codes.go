package cloud

import (
	"maps"
	"net/http"
	"strings"

	"github.com/certdrop/certdrop/shared/failure"
)

// CodeInfo is how certdrop treats one OpenAPI error code, and what a
// person can do about it.
type CodeInfo struct {
	Class failure.Class
	// Hint is one line a person can act on.
	Hint string
}

// Codes returns the OpenAPI classification table: the gateway's
// authentication and throttling codes, and every error code of the
// vendor's reference documents for the domain certificate operations of
// CDN, VOD, Live and DCDN, which answer the same codes (DCDN's
// SetDcdnDomainSSLCertificate answers CDN's, and its error centre adds
// SystemUpgrading and MissingParameter), and the few others their
// Describe operations answer. A call's own codes (Request.Codes) come
// first. Codes in neither are classified by HTTP status (429 throttled,
// 5xx transient) and are otherwise permanent, with the API's own message.
// The map is a fresh copy.
func Codes() map[string]CodeInfo { return maps.Clone(codeTable) }

// codeTable is the table Codes copies and classify reads: built once, at
// init, and never written.
var codeTable = buildCodes()

// buildCodes builds the table Codes describes.
func buildCodes() map[string]CodeInfo {
	p, t, r, a := failure.Permanent, failure.Transient, failure.Throttled, failure.Auth
	// f: the permission is missing for this action only (RAM grants are per
	// action): the API's targets fail, the other APIs go on.
	// c: the certificate or key itself was refused: every target of the
	// API would get the same answer, so its remaining targets fail at once.
	f, c := failure.Forbidden, failure.Refused
	return map[string]CodeInfo{
		// Throttling: slow down and retry after the server's hint.
		"Throttling":          {r, "the API's request rate limit was hit: certdrop backs off and retries"},
		"Throttling.User":     {r, "the account's per-API rate limit was hit: certdrop backs off and retries"},
		"Throttling.Api":      {r, "the API's global rate limit was hit: certdrop backs off and retries"},
		"Throttling.Resource": {r, "the resource's rate limit was hit: certdrop backs off and retries"},
		"Rejected.Throttling": {r, "the request was refused by flow control: certdrop backs off and retries"},

		// Transient: the same call can succeed later.
		"ServiceUnavailable":      {t, "the service is temporarily unavailable: certdrop retries"},
		"InternalError":           {t, "the service failed internally: certdrop retries"},
		"ServiceBusy":             {t, "the service or the domain is busy (a configuration may be in progress): certdrop retries"},
		"UnknownError":            {t, "the service failed without saying why: certdrop retries"},
		"RequestTimeout":          {t, "the service timed out: certdrop retries"},
		"CreateCertificateFailed": {t, "the service could not create the certificate: certdrop retries"},
		"CertStorage.failed":      {t, "the service could not store the certificate: certdrop retries"},
		"SignatureNonceUsed":      {t, "a request nonce was reused (a duplicate request): certdrop retries with a new one"},
		"SystemUpgrading":         {t, "the service is being upgraded (DCDN answers 403): certdrop retries"},

		// Auth: the credentials were refused; every further call would fail
		// alike and the run stops.
		"InvalidAccessKeyId.NotFound":                {a, "the AccessKey ID does not exist: check ALIBABA_CLOUD_ACCESS_KEY_ID or the function's role"},
		"InvalidAccessKeyId":                         {a, "the AccessKey ID is invalid: check ALIBABA_CLOUD_ACCESS_KEY_ID or the function's role"},
		"InvalidAccessKeyId.Inactive":                {a, "the AccessKey is disabled: enable it in the RAM console or use another"},
		"InvalidAccessKeySecret":                     {a, "the AccessKey secret is wrong: check ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
		"SignatureDoesNotMatch":                      {a, "the signature does not match: the AccessKey secret is wrong"},
		"IncompleteSignature":                        {a, "the request signature is incomplete: check the credentials and any proxy rewriting requests"},
		"InvalidSecurityToken.Expired":               {a, "the STS security token expired: get fresh credentials (FC passes new ones per invocation)"},
		"InvalidSecurityToken.Malformed":             {a, "the STS security token is malformed: check ALIBABA_CLOUD_SECURITY_TOKEN"},
		"InvalidSecurityToken.MismatchWithAccessKey": {a, "the STS security token belongs to another AccessKey: use the ID, secret and token of one assumption"},
		"MissingSecurityToken":                       {a, "an STS AccessKey needs its security token: set ALIBABA_CLOUD_SECURITY_TOKEN"},
		"InvalidTimeStamp.Expired":                   {a, "the request time is too far from the service's: fix this machine's clock"},
		"Forbidden.RAM":                              {f, "the RAM policy does not allow this action: grant cdn:/vod:/live:/dcdn: Set*Certificate and Describe*CertificateInfo to the user or role"},
		"Forbidden.AccessKeyDisabled":                {a, "the AccessKey is disabled: enable it in the RAM console or use another"},
		"Forbidden.SubUser":                          {f, "the RAM user may not call this API: grant it the permission"},
		"Forbidden.NoPermission":                     {f, "the caller lacks permission for this API: grant it in RAM"},
		"NoPermission":                               {f, "the caller lacks permission for this API: grant it in RAM"},

		// Permanent: the target fails; a person must act.
		"InvalidDomain.NotFound":               {p, "the domain is not in this account's product (a CDN wildcard is written .example.com): check the manifest and the account"},
		"InvalidDomain.Offline":                {p, "the domain is offline: start it in the console, then run certdrop again"},
		"InvalidDomain.notOnline":              {p, "the domain is not online: start it (or wait for its configuration to finish), then run certdrop again"},
		"DomainInSafeMode":                     {p, "the domain is in safe mode: ask Alibaba Cloud support to lift it"},
		"DomainInProtectedMode":                {p, "the domain is in protection mode: ask Alibaba Cloud support to lift it"},
		"DomainOwnerVerifyFail":                {p, "ownership of the root domain could not be verified: complete domain verification in the console"},
		"IllegalOperationDomain":               {p, "this account may not operate the domain: check that the domain belongs to the account"},
		"IllegalOperation":                     {p, "the operation is not permitted on this domain: check the domain's status in the console"},
		"FunctionMutex":                        {p, "HTTPS conflicts with another feature configured on the domain: resolve the conflict in the console"},
		"InvalidSSLProtocol.ValueNotSupported": {p, "SSLProtocol must be on or off: report this as a certdrop bug"},
		"SSLPub.MissingParameter":              {c, "the certificate was not sent: check that the bundle has a certificate"},
		"SSLPri.MissingParameter":              {c, "the private key was not sent: check that the bundle has its private key"},
		"InvalidSSLPub":                        {c, "the service rejected the certificate PEM: re-export the certificate chain (PEM, leaf first)"},
		"InvalidSSLPri":                        {c, "the service rejected the private key PEM: re-export the key unencrypted, RSA or ECDSA"},
		"InvalidSSLPubOrInvalidSSLPri":         {c, "the service rejected the certificate or key PEM: re-export both"},
		"Certificate.MissMatch":                {c, "the private key does not belong to the certificate: deploy the key generated with this certificate"},
		"InvalidCertificate.TooLong":           {c, "the certificate chain is too long: remove the root and unrelated certificates from the bundle"},
		"InvalidCertName.TooLong":              {c, "the certificate name exceeds 128 characters: report this as a certdrop bug"},
		"CertName.MissingParameter":            {p, "the certificate name is missing: report this as a certdrop bug"},
		"AuthenticationFailed":                 {p, "the service could not verify the certificate request: check the certificate and the account's Certificate Management Service access"},
		"SetDomainCertificate.ParameterError":  {p, "the service rejected the parameters: check the domain's HTTPS settings in the console"},
		"Certificate.StatusError":              {p, "the certificate's status is invalid on the service: check it in Certificate Management Service"},
		"DeleteFailed":                         {p, "the service could not remove the previous certificate: check the domain in the console"},
		"Certificate.NotFind":                  {p, "the service cannot find the certificate: check the certificate name or ID"},
		"Certificate.Duplicated":               {p, "a different certificate already has this name in the account: certdrop names embed the fingerprint, so find who uploaded it"},
		"CertNameAlreadyExists":                {p, "a different certificate already has this name in the account: remove or rename it"},
		"CertificateContent.Duplicated":        {p, "this certificate was already uploaded under another name: reuse or delete that upload"},
		"Certificate.FormatError":              {c, "the service rejected the certificate format: re-export the certificate chain as PEM"},
		"Certificate.KeyNull":                  {c, "the private key is missing: check that the bundle has its private key"},
		"Key.Malformed":                        {c, "the service rejected the private key format: re-export the key unencrypted (PKCS#1 or SEC 1 PEM)"},
		"Certificate.Expired":                  {c, "the certificate has expired: renew it before deploying"},
		"Decode.Error":                         {c, "the service could not decode the certificate or key: re-export both as PEM"},
		"sslPub.Error":                         {c, "the service could not encode the certificate: re-export it as PEM"},
		"sslPri.Error":                         {c, "the service could not encode the private key: re-export it as PEM"},
		"Abs.CertRegion.ValueNotSupported":     {p, "CertRegion must be cn-hangzhou or ap-southeast-1: report this as a certdrop bug"},
		"InvalidEnv":                           {p, "Env must be staging or unset: check the target's staging setting"},
		"Certificate.NotPermittedOff":          {p, "turning HTTPS off here changes the domain's scheduling: contact Alibaba Cloud support"},
		"Certificate.SettedNotEffect":          {p, "the certificate was set but does not take effect: contact Alibaba Cloud support"},
		"MissingDomainName":                    {p, "the domain name was not sent: report this as a certdrop bug"},
		"MissingSSLProtocol":                   {p, "SSLProtocol was not sent: report this as a certdrop bug"},
		"MissingServerCertificateStatus":       {p, "ServerCertificateStatus was not sent: report this as a certdrop bug"},
		"InvalidAction.NotFound":               {p, "the endpoint does not know this API: check the CERTDROP_*_ENDPOINT override and the product's region"},
		"InvalidVersion":                       {p, "the endpoint does not know this API version: check the CERTDROP_*_ENDPOINT override"},
		"InvalidParameter":                     {p, "the service rejected a parameter: check the message"},
		"MissingParameter":                     {p, "a required parameter was not sent: report this as a certdrop bug"},
	}
}

// answers are a caller's own answers to error codes: codes classify them
// before the OpenAPI table does; hint, when set, replaces the hint of the
// codes it gives one for.
type answers struct {
	codes map[string]CodeInfo
	hint  func(code string) string
}

// classify returns how a failed call is treated, from its code (in codes,
// the caller's own, then in the table), then its HTTP status. The hint is
// empty for codes outside the tables.
func classify(code string, status int, codes map[string]CodeInfo) (failure.Class, string) {
	if ci, ok := codes[code]; ok {
		return ci.Class, ci.Hint
	}
	if ci, ok := codeTable[code]; ok {
		return ci.Class, ci.Hint
	}
	switch {
	case status == http.StatusTooManyRequests || strings.HasPrefix(code, "Throttling"):
		return failure.Throttled, "the service is limiting the request rate: certdrop backs off and retries"
	case status >= 500:
		return failure.Transient, "the service failed: certdrop retries"
	case strings.HasPrefix(code, "InvalidAccessKeyId") || strings.HasPrefix(code, "InvalidSecurityToken"):
		return failure.Auth, "the credentials were refused: check the AccessKey and security token"
	case strings.HasPrefix(code, "Forbidden"):
		return failure.Forbidden, "the caller may not call this API: grant the action in RAM"
	}
	return failure.Permanent, ""
}

// ActionRefused reports whether code says the gateway does not know or
// no longer serves the action: InvalidAction.NotFound (the gateway's
// answer to an unknown action), InvalidAction, and the deprecation codes
// some gateways give (OperationDeprecated, Deprecated.*).
func ActionRefused(code string) bool {
	switch {
	case code == "InvalidAction.NotFound", code == "InvalidAction", code == "InvalidApi.NotFound",
		code == "OperationDeprecated", strings.HasPrefix(code, "Deprecated"):
		return true
	}
	return false
}

// Classify says how a failed call answered with code and HTTP status is
// treated, and what a person can do: codes (a product's own, nil for
// none) first, then the OpenAPI table (Codes), then the status.
func Classify(code string, status int, codes map[string]CodeInfo) (failure.Class, string) {
	return classify(code, status, codes)
}
