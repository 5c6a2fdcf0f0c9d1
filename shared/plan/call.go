package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// Call is one planned API call: install the certificate on one target.
type Call struct {
	Target manifest.Target
	API    API
	// Endpoint is the product's default endpoint host; EndpointVar names
	// the environment variable that overrides it (CERTDROP_CDN_ENDPOINT),
	// which shared/cloud reads.
	Endpoint    string
	EndpointVar string
	// DomainName is what the call addresses as the API takes it: a domain
	// lower-case and in punycode (a CDN wildcard as ".example.com"), or
	// the product's own address (a listener).
	DomainName string
	// Params are the request parameters in the order the reference
	// documents list them, Action and Version excluded.
	Params []Param
	// CASRegion, for a target with delivery: cas, is the CAS region of the
	// certificate the call references; empty for an upload call, which
	// carries the certificate and key itself.
	CASRegion string
	// CertIDSuffix follows the CertId in the CertId parameter WithCertID
	// sets: "-cn-hangzhou" where the API takes "<CertId>-<region>".
	CertIDSuffix string
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

// TargetCall returns the call that names t without a certificate, as its
// product plans it (Planner.Target): what a Describe of a target needs,
// for reconciles that inspect targets no bundle covers.
func TargetCall(ps Products, t manifest.Target) (Call, error) {
	pl, err := planner(ps, t)
	if err != nil {
		return Call{}, err
	}
	return pl.Target(t)
}
