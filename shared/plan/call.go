package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// Call is one planned API call: install the certificate on one target.
type Call struct {
	Target manifest.Target
	API    API
	// Endpoint is the product's default endpoint host; shared/cloud may
	// override it from the environment.
	Endpoint string
	// DomainName is the domain as the API takes it: lower-case, punycode,
	// a CDN wildcard as ".example.com".
	DomainName string
	// Params are the request parameters in the order the reference
	// documents list them, Action and Version excluded.
	Params []Param
	// CASRegion, for a target with delivery: cas, is the CAS region of the
	// certificate the call references; empty for an upload call, which
	// carries the certificate and key itself.
	CASRegion string
}

// Param is one request parameter. Sensitive values (the private key) print,
// log and marshal as "<redacted>".
type Param struct {
	Name      string
	Value     string
	Sensitive bool
}

// Shown returns the value, or "<redacted>" when the parameter is sensitive.
func (p Param) Shown() string {
	if p.Sensitive {
		return bundle.Redacted
	}
	return p.Value
}

// String renders "Name=value" with sensitive values redacted.
func (p Param) String() string { return p.Name + "=" + p.Shown() }

// GoString renders the parameter for %#v with sensitive values redacted.
func (p Param) GoString() string {
	return fmt.Sprintf("plan.Param{Name:%q, Value:%q, Sensitive:%t}", p.Name, p.Shown(), p.Sensitive)
}

// LogValue redacts sensitive values for log/slog.
func (p Param) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON renders {"name":..,"value":..} with sensitive values redacted.
func (p Param) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<redacted>" stays readable
	err := enc.Encode(struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}{p.Name, p.Shown()})
	return bytes.TrimSpace(buf.Bytes()), err
}

// Form returns the parameters as the request body carries them, secrets
// included. Only the API client should call it.
func (c Call) Form() map[string]string {
	f := make(map[string]string, len(c.Params))
	for _, p := range c.Params {
		f[p.Name] = p.Value
	}
	return f
}

// Secrets returns the values of the sensitive parameters (the private
// key), which the API client scrubs from every error. Only the API client
// should call it.
func (c Call) Secrets() []string {
	var out []string
	for _, p := range c.Params {
		if p.Sensitive {
			out = append(out, p.Value)
		}
	}
	return out
}

// Param returns the named parameter's value ("" when absent).
func (c Call) Param(name string) string {
	for _, p := range c.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// String describes the call without secrets: "SetCdnDomainSSLCertificate www.example.com".
func (c Call) String() string { return c.API.Action + " " + c.DomainName }

// LogValue describes the call for log/slog without any parameter values.
func (c Call) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api", c.API.Action),
		slog.String("product", string(c.Target.Product)),
		slog.String("domain", c.DomainName),
	)
}

// APIDomain returns a target's domain as its product's API takes it:
// normalised by bundle.NormalizeDomain, and a CDN or DCDN wildcard written
// ".example.com" (the CDN answers InvalidDomain.NotFound for
// "*.example.com"). DCDN's reference pages do not say how its API writes a
// wildcard domain: certdrop writes it as CDN's (an assumption to check
// against a real account; the emulator takes the same form).
func APIDomain(p manifest.Product, domain string) (string, error) {
	d, err := bundle.NormalizeDomain(domain)
	if err != nil {
		return "", err
	}
	if p == manifest.CDN || p == manifest.CDNLegacy || p == manifest.DCDN {
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			d = "." + rest
		}
	}
	return d, nil
}

// newUploadCall plans a target's Set call with the certificate and its
// key in the request (delivery: upload), on c, the target's TargetCall.
func newUploadCall(c Call, t manifest.Target, certName, certPEM string, key bundle.Secret) Call {
	domain := c.DomainName
	add := func(name, value string) { c.Params = append(c.Params, Param{Name: name, Value: value}) }
	switch t.Product {
	case manifest.OSS:
		// PutCname's CertificateConfiguration: the certificate and key
		// (upload), Force so that the domain's current certificate is
		// replaced without naming its CertId (the fan-out decided to
		// replace it from ListCname). OSS has no certificate name: the
		// bucket goes with the call, for the client.
		add("Bucket", t.Bucket)
		add("Domain", domain)
		add("Certificate", certPEM)
		c.Params = append(c.Params, Param{Name: "PrivateKey", Value: key.Reveal(), Sensitive: true})
		add("Force", "true")
	case manifest.CDNLegacy:
		add("DomainName", domain)
		add("ServerCertificateStatus", "on")
		add("CertName", certName)
		add("ServerCertificate", certPEM)
		c.Params = append(c.Params, Param{Name: "PrivateKey", Value: key.Reveal(), Sensitive: true})
		add("ForceSet", "1")
	default:
		add("DomainName", domain)
		add("CertName", certName)
		add("CertType", "upload")
		add("SSLProtocol", "on")
		add("SSLPub", certPEM)
		c.Params = append(c.Params, Param{Name: "SSLPri", Value: key.Reveal(), Sensitive: true})
		if t.Product == manifest.Live {
			add("ForceSet", "1")
		}
		if t.Staging && t.Product.HasEnv() {
			add("Env", "staging")
		}
	}
	return c
}

// TargetCall returns a call that names a target without a certificate: its
// API, endpoint and API domain, no parameters. It is what a Describe of a
// target needs, for reconciles that inspect targets no bundle covers.
func TargetCall(t manifest.Target) (Call, error) {
	domain, err := APIDomain(t.Product, t.Domain)
	if err != nil {
		return Call{}, fmt.Errorf("target %s %s: %w", t.Product, t.Domain, err)
	}
	return Call{Target: t, API: SetAPI(t.Product), Endpoint: DefaultEndpoint(t.Product, t.Region), DomainName: domain}, nil
}
