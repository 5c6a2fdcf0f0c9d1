// Package fc is the certificate of a Function Compute 3.0 custom domain
// (API 2023-03-30, ROA style: a method on a resource path with a JSON
// body, signed ACS3-HMAC-SHA256 through the same OpenAPI client as every
// call, cloud.Client.ROA), at fcv3.<region>.aliyuncs.com (the OpenAPI
// gateway's endpoint, which needs no account ID) or the URL in
// CERTDROP_FC_ENDPOINT.
//
// Manifest: a target is a custom domain (domain, domains) with its region
// (region, required: a region ID such as cn-hangzhou); staging: true is
// refused.
//
// Set is GetCustomDomain, then UpdateCustomDomain
// (PUT /2023-03-30/custom-domains/{domainName}) with certConfig (certName,
// certificate, privateKey) and everything else the domain has sent back
// as GetCustomDomain answered it: protocol, routeConfig with every route,
// tlsConfig, authConfig, wafConfig, corsConfig and any other setting.
// UpdateCustomDomainInput makes every field optional and its page does not
// say that an omitted one is kept; deployers that left fields out lost
// them (the routes), so certdrop never leaves one out. A domain whose
// protocol is HTTP only fails (HTTPOnlyError): certdrop changes a
// domain's certificate, never its protocol.
//
// The key travels in the form FC takes: PKCS#1 ("RSA PRIVATE KEY") or
// SEC 1 ("EC PRIVATE KEY"); a PKCS#8 key is converted (FC answers
// "'private key' has to be in PEM format" to PKCS#8: certd issue 501). The
// certificate's name is certdrop's (plan.CertName) with every character
// other than a letter, digit, '_' or '-' made '-', and at most 64
// characters: FC refuses a name that does not start with a letter or
// underscore (certd issue 522); its reference gives no length or
// character set, so the shorter, plainer form is a cautious choice.
//
// delivery: cas goes by upload: certConfig takes the certificate and key
// themselves, never a Certificate Management Service id.
//
// Quotas: FC's reference documents no per-second limit for these
// operations: 10 calls/s each, a cautious default, configurable with
// CERTDROP_QUOTAS.
//
// Errors: Codes (DomainNameNotFound, InvalidArgument, AccessDenied), then
// the OpenAPI table of shared/cloud.
package fc

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// Name is the product's name.
const Name manifest.Product = "fc"

// Version is Function Compute 3.0's API version.
const Version = "2023-03-30"

// EnvEndpoint overrides the endpoint of every region, as a URL.
const EnvEndpoint = config.FCEndpoint

// Host returns the OpenAPI endpoint of a region.
func Host(region string) string { return "fcv3." + region + ".aliyuncs.com" }

// pool is the product's connection pool.
const pool = "fc"

// quota is the cautious calls per second of each operation.
const quota = 10

// The operations.
var (
	// UpdateAPI sets a custom domain's configuration, its certificate
	// among it.
	UpdateAPI = plan.API{Service: "fc", Action: "UpdateCustomDomain", Version: Version, Quota: quota}
	// GetAPI reads a custom domain's configuration.
	GetAPI = plan.API{Service: "fc", Action: "GetCustomDomain", Version: Version, Quota: quota}
)

// NoReferenceNote says how fc targets with delivery: cas are delivered.
const NoReferenceNote = "fc targets with delivery: cas go by upload: UpdateCustomDomain's certConfig takes the certificate and key themselves, never a Certificate Management Service id"

// New returns product fc.
func New() product.Product { return fcProduct{} }

type fcProduct struct{}

// Spec: a custom domain with its region.
func (fcProduct) Spec() manifest.Spec {
	return manifest.Spec{
		Name: Name,
		Fields: []manifest.Field{
			product.RegionField(Name, "fc target has no region (the custom domain's Function Compute region, e.g. cn-hangzhou)"),
		},
		NoStaging: "its API has no Env parameter",
	}
}

// APIs are UpdateCustomDomain and GetCustomDomain.
func (fcProduct) APIs() []plan.API { return []plan.API{UpdateAPI, GetAPI} }

// EndpointVar is EnvEndpoint.
func (fcProduct) EndpointVar() string { return EnvEndpoint }

// Target plans UpdateCustomDomain on the domain, at its region.
func (fcProduct) Target(t manifest.Target) (plan.Call, error) {
	return product.DomainCall(t, UpdateAPI, Host(t.Region), EnvEndpoint, false)
}

// Upload: certConfig's certName (CertName), certificate and privateKey
// (Key).
func (fcProduct) Upload(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	product.Add(&c, "certName", CertName(certName))
	product.Add(&c, "certificate", certPEM)
	product.AddSecret(&c, "privateKey", Key(key.Reveal()))
	return c
}

// Reference: none; the target goes by upload (NoReferenceNote).
func (fcProduct) Reference(plan.Call, string, string) (plan.Call, error) {
	return plan.Call{}, &plan.NoReferenceError{Note: NoReferenceNote}
}

// maxCertName is the longest certName certdrop sends (cautious: FC's
// reference gives no limit).
const maxCertName = 64

// CertName returns certdrop's certificate name in the form FC accepts: a
// letter first, then letters, digits, '_' and '-' (every other character
// made '-'), at most 64 characters, the end (date and fingerprint prefix)
// kept.
func CertName(name string) string {
	out := []byte(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '-'
	}, name))
	if len(out) == 0 || !(out[0] >= 'a' && out[0] <= 'z' || out[0] >= 'A' && out[0] <= 'Z') {
		out = append([]byte("c-"), out...)
	}
	if len(out) > maxCertName {
		// Keep the first 10 (certdrop-) and the last bytes: the date and
		// the fingerprint prefix are what tell two certificates apart.
		out = append(out[:10:10], out[len(out)-(maxCertName-10):]...)
	}
	return string(out)
}

// Key returns a private key PEM in the form FC takes: a PKCS#8 RSA key as
// PKCS#1, a PKCS#8 EC key as SEC 1; any other key as given (FC refuses it
// with its own message).
func Key(keyPEM string) string {
	blk, _ := pem.Decode([]byte(keyPEM))
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return keyPEM
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return keyPEM
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return keyPEM
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	return keyPEM
}

// path is the custom domain's resource path.
func path(domain string) string { return "/2023-03-30/custom-domains/" + cloud.PathSegment(domain) }

// request is an FC call about the call's domain.
func request(call plan.Call, api plan.API, method string) cloud.ROARequest {
	return cloud.ROARequest{EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: pool,
		Action: api.Action, Version: api.Version, Method: method, Path: path(call.DomainName),
		Subject: call.DomainName, Codes: codeTable}
}

// roa makes one ROA call r of api through calls (paced in api's lane,
// retried there) and returns the answer.
func roa(ctx context.Context, tr *cloud.Client, calls fanout.Caller, api plan.API, r cloud.ROARequest) (cloud.ROAResponse, error) {
	var res cloud.ROAResponse
	err := calls.Call(ctx, api, func() (string, error) {
		var err error
		res, err = tr.ROA(ctx, r)
		if err != nil {
			return cloud.RequestIDOf(err), err
		}
		return res.RequestID, nil
	})
	return res, err
}

// get reads the custom domain's configuration (GetCustomDomain).
func get(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (cloud.ROAResponse, error) {
	return roa(ctx, tr, calls, GetAPI, request(call, GetAPI, http.MethodGet))
}

// HTTPOnlyError is a custom domain that serves HTTP only: a certificate
// would not be used. It is permanent.
type HTTPOnlyError struct{ Domain string }

// Error says what to do.
func (e *HTTPOnlyError) Error() string {
	return "UpdateCustomDomain " + e.Domain + ": the Function Compute custom domain serves HTTP only, so a certificate would not be used: " +
		"set its protocol to HTTPS or HTTP,HTTPS in the Function Compute console (certdrop changes only a domain's certificate, never its protocol)"
}

// Class is permanent.
func (e *HTTPOnlyError) Class() failure.Class { return failure.Permanent }

// readOnly are the CustomDomain fields GetCustomDomain answers that
// UpdateCustomDomain does not take (and certConfig, which certdrop sets).
var readOnly = []string{"accountId", "apiVersion", "domainName", "createdTime", "lastModifiedTime", "subdomainCount", "certConfig"}

// Set reads the domain's configuration and sends it back with the call's
// certificate: nothing else of it changes.
func (fcProduct) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	cur, err := get(ctx, tr, call, calls)
	if err != nil {
		return err
	}
	proto, _ := cur.Body["protocol"].(string)
	if !strings.Contains(strings.ToUpper(proto), "HTTPS") {
		return &HTTPOnlyError{Domain: call.DomainName}
	}
	body := map[string]any{}
	for k, v := range cur.Body {
		if v != nil && !slices.Contains(readOnly, k) {
			body[k] = v
		}
	}
	f := call.Form()
	body["certConfig"] = map[string]any{"certName": f["certName"], "certificate": f["certificate"], "privateKey": f["privateKey"]}
	r := request(call, UpdateAPI, http.MethodPut)
	r.Body, r.Secrets = body, call.Secrets()
	_, err = roa(ctx, tr, calls, UpdateAPI, r)
	return err
}

// Describe reads what the domain carries: certConfig's certName and
// certificate (whose fingerprint and validity decide), HTTPS when the
// protocol serves it.
func (fcProduct) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	res, err := get(ctx, tr, call, calls)
	if err != nil {
		return fanout.Installed{}, err
	}
	inst := fanout.Installed{RequestID: res.RequestID}
	proto, _ := res.Body["protocol"].(string)
	cc, _ := res.Body["certConfig"].(map[string]any)
	if cc == nil {
		return inst, nil
	}
	inst.CertName, _ = cc["certName"].(string)
	inst.HTTPS = strings.Contains(strings.ToUpper(proto), "HTTPS")
	if pemText, _ := cc["certificate"].(string); pemText != "" {
		if leaf := product.FirstCert(pemText); leaf != nil {
			inst.Fingerprint = bundle.Fingerprint(leaf)
			inst.NotBefore, inst.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
		}
	}
	return inst, nil
}

// Codes returns how certdrop treats Function Compute's own error codes;
// the others go through cloud.Codes. The map is a fresh copy.
func Codes() map[string]cloud.CodeInfo { return maps.Clone(codeTable) }

// codeTable is the table Codes copies; built once, never written.
var codeTable = map[string]cloud.CodeInfo{
	"DomainNameNotFound": {Class: failure.Permanent, Hint: "Function Compute has no such custom domain in this region: check the target's domain and region"},
	"InvalidArgument":    {Class: failure.Permanent, Hint: "Function Compute refused the request: check the message (the certificate, its key or the domain's settings)"},
	"AccessDenied":       {Class: failure.Forbidden, Hint: "the RAM policy does not allow this Function Compute action: grant fc:GetCustomDomain and fc:UpdateCustomDomain"},
}
