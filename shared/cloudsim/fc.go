package cloudsim

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
)

// ProductFC is Function Compute 3.0's custom domains (product fc, API
// version 2023-03-30, ROA style), served on the OpenAPI listener
// (CERTDROP_FC_ENDPOINT) with the same signature checks (the SDK signs an
// ROA call ACS3-HMAC-SHA256 like an RPC one: x-acs-action, the path, the
// JSON body's SHA-256), quotas, faults and journal as every product. The
// domains are configured under fc.domains.
//
//	GetCustomDomain     GET /2023-03-30/custom-domains/{domainName}
//	  -> the CustomDomain: accountId, apiVersion, domainName, protocol
//	     (HTTP | HTTPS | HTTP,HTTPS), certConfig {certName, certificate} (the
//	     private key is never answered), routeConfig {routes[]}, tlsConfig,
//	     authConfig, wafConfig, corsConfig, createdTime, lastModifiedTime.
//	     404 DomainNameNotFound for a domain the account does not have.
//	UpdateCustomDomain  PUT /2023-03-30/custom-domains/{domainName}, body
//	                    UpdateCustomDomainInput {protocol, certConfig
//	                    {certName, certificate, privateKey}, routeConfig,
//	                    tlsConfig, authConfig, wafConfig, corsConfig}
//	  -> the CustomDomain as updated.
//
// UpdateCustomDomain replaces the domain's configuration with the body: a
// field the body leaves out is not kept (routeConfig: no route; tlsConfig,
// authConfig, wafConfig, corsConfig: none; protocol: HTTP). Every field of
// UpdateCustomDomainInput is optional and its page does not say that an
// omitted one is kept; deployers that sent only some of them lost the
// others (the routes of devsapp/fc issue 733, cellbang/cell issue 1), so
// the emulator models the harsher reading and a client must send back
// what it means to keep.
//
// The certificate: a protocol with HTTPS needs certConfig; certName must
// start with a letter or an underscore (certd issue 522: a name starting
// with a digit is refused), then letters, digits, '_', '-' and '.', at
// most 128 characters (the length is the emulator's choice: undocumented);
// privateKey must be PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE
// KEY") PEM: a PKCS#8 key ("PRIVATE KEY") is refused "'private key' has to
// be in PEM format" (certd issue 501, the answer FC gives); the key must
// be the certificate's, and the certificate valid. Refusals are 400
// InvalidArgument with FC's message.
//
// Quotas: FC's API reference documents no per-second limit for either
// operation: 10 calls/s, certdrop's cautious default. Config.Quotas
// changes them.
//
// Sources: https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-updatecustomdomain
// and -getcustomdomain (method, path, CustomDomain and
// UpdateCustomDomainInput), the generated SDK
// (github.com/alibabacloud-go/fc-20230330: Style ROA, ReqBodyType json,
// pathname "/2023-03-30/custom-domains/" + the encoded domain name).
const ProductFC = "fc"

// fcVersion is Function Compute 3.0's API version.
const fcVersion = "2023-03-30"

// fcQuota is the emulator's calls per second for each FC operation.
const fcQuota = 10

// FCSettings configures Function Compute 3.0: the account's custom
// domains.
type FCSettings struct {
	// AccountID is the accountId the answers carry.
	AccountID string             `yaml:"accountId"`
	Domains   []FCDomainSettings `yaml:"domains"`
}

// FCDomainSettings is one custom domain.
type FCDomainSettings struct {
	Name string `yaml:"name"`
	// Protocol is HTTP, HTTPS or HTTP,HTTPS (the default).
	Protocol string `yaml:"protocol"`
	// Routes are routeConfig.routes, as the API writes them
	// (path, functionName, qualifier, methods, ...).
	Routes []map[string]any `yaml:"routes"`
	// TLSConfig, AuthConfig and WAFConfig are the domain's other
	// settings, as the API writes them.
	TLSConfig  map[string]any `yaml:"tlsConfig"`
	AuthConfig map[string]any `yaml:"authConfig"`
	WAFConfig  map[string]any `yaml:"wafConfig"`
	// CertName and Cert (or CertFile) seed the certificate it carries.
	CertName string `yaml:"certName"`
	Cert     string `yaml:"cert"`
	CertFile string `yaml:"certFile"`
}

// FCDomain is a custom domain as tests read it (Sim.FCDomain).
type FCDomain struct {
	Name, Protocol string
	CertName       string
	Fingerprint    string
	// Config is the domain's configuration as GetCustomDomain answers it.
	Config map[string]any
	// KeyPEM is the private key last set, for tests of its form only.
	KeyPEM string
}

// fcDomain is one custom domain; conf holds the CustomDomain's
// configuration fields as JSON values.
type fcDomain struct {
	name     string
	conf     map[string]any
	keyPEM   string
	created  time.Time
	modified time.Time
}

// fcState holds the custom domains. It is safe for concurrent use.
type fcState struct {
	mu      sync.Mutex
	account string
	domains map[string]*fcDomain
}

// fcProduct registers Function Compute 3.0.
func fcProduct() productSpec {
	return productSpec{
		name: ProductFC, code: "FC", host: "fcv3.cn-hangzhou.aliyuncs.com",
		env: []string{config.FCEndpoint},
		errors: map[string]knownError{
			"DomainNameNotFound": {404, "domain name does not exist"},
			"InvalidArgument":    {400, "invalid argument"},
		},
		actions: []apiSpec{
			{action: "GetCustomDomain", version: fcVersion, quota: fcQuota, method: http.MethodGet,
				path: "/2023-03-30/custom-domains/{domainName}", journal: fcJournal, handle: (*Sim).fcGet},
			{action: "UpdateCustomDomain", version: fcVersion, quota: fcQuota, method: http.MethodPut,
				path: "/2023-03-30/custom-domains/{domainName}", journal: fcJournal, handle: (*Sim).fcUpdate},
		},
	}
}

// fcJournal names the domain of the path.
func fcJournal(_ *Sim, c *call, p url.Values) {
	c.entry.Domain = strings.ToLower(p.Get("domainName"))
}

// fcCertNameRE is the form of a certName the emulator accepts.
var fcCertNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

// validate checks the FC settings.
func (f *FCSettings) validate() error {
	seen := map[string]bool{}
	for i, d := range f.Domains {
		n := strings.ToLower(strings.TrimSpace(d.Name))
		if n == "" || seen[n] {
			return fmt.Errorf("fc.domains[%d]: name is required and unique", i)
		}
		seen[n] = true
		if !fcProtocol(d.Protocol) && d.Protocol != "" {
			return fmt.Errorf("fc.domains[%d] %s: protocol must be HTTP, HTTPS or HTTP,HTTPS, not %q", i, n, d.Protocol)
		}
		if d.Cert != "" {
			if _, ok := firstCertificate(d.Cert); !ok || d.CertName == "" {
				return fmt.Errorf("fc.domains[%d] %s: cert holds no parsable certificate, or certName is missing", i, n)
			}
		}
	}
	return nil
}

// fcProtocol reports whether p is one of FC's protocols.
func fcProtocol(p string) bool { return p == "HTTP" || p == "HTTPS" || p == "HTTP,HTTPS" }

// newFCState builds the domains.
func newFCState(cfg FCSettings, now time.Time) *fcState {
	st := &fcState{account: cfg.AccountID, domains: map[string]*fcDomain{}}
	if st.account == "" {
		st.account = "1234567890123456"
	}
	for _, d := range cfg.Domains {
		conf := map[string]any{"protocol": d.Protocol}
		if d.Protocol == "" {
			conf["protocol"] = "HTTP,HTTPS"
		}
		if len(d.Routes) > 0 {
			conf["routeConfig"] = jsonValueOf(map[string]any{"routes": d.Routes})
		}
		for k, v := range map[string]map[string]any{"tlsConfig": d.TLSConfig, "authConfig": d.AuthConfig, "wafConfig": d.WAFConfig} {
			if v != nil {
				conf[k] = jsonValueOf(v)
			}
		}
		if d.Cert != "" {
			conf["certConfig"] = map[string]any{"certName": d.CertName, "certificate": d.Cert}
		}
		st.domains[strings.ToLower(d.Name)] = &fcDomain{name: strings.ToLower(d.Name), conf: conf, created: now, modified: now}
	}
	return st
}

// jsonValueOf turns a YAML value into the JSON values a decoded body has.
func jsonValueOf(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// answer is the domain as GetCustomDomain answers it.
func (st *fcState) answer(d *fcDomain) map[string]any {
	out := jsonValueOf(d.conf).(map[string]any)
	out["accountId"], out["apiVersion"], out["domainName"] = st.account, fcVersion, d.name
	out["createdTime"], out["lastModifiedTime"] = describeTime(d.created), describeTime(d.modified)
	return out
}

// fcGet answers GetCustomDomain.
func (s *Sim) fcGet(_ *call, p url.Values) (any, *apiError) {
	s.fc.mu.Lock()
	defer s.fc.mu.Unlock()
	d := s.fc.domains[strings.ToLower(p.Get("domainName"))]
	if d == nil {
		return nil, newAPIError(ProductFC, "DomainNameNotFound").withMessage("domain name " + p.Get("domainName") + " does not exist")
	}
	return s.fc.answer(d), nil
}

// fcBad is InvalidArgument with FC's message.
func fcBad(msg string) *apiError { return newAPIError(ProductFC, "InvalidArgument").withMessage(msg) }

// fcUpdate answers UpdateCustomDomain: the body replaces the domain's
// configuration (ProductFC).
func (s *Sim) fcUpdate(c *call, p url.Values) (any, *apiError) {
	var in map[string]any
	if err := json.Unmarshal(c.body, &in); err != nil || in == nil {
		return nil, fcBad("the request body is not a JSON object")
	}
	conf := map[string]any{}
	for _, k := range []string{"routeConfig", "tlsConfig", "authConfig", "wafConfig", "corsConfig"} {
		if v, ok := in[k]; ok && v != nil {
			conf[k] = v
		}
	}
	proto, _ := in["protocol"].(string)
	if proto == "" {
		proto = "HTTP"
	}
	if !fcProtocol(proto) {
		return nil, fcBad("protocol must be HTTP, HTTPS or HTTP,HTTPS")
	}
	conf["protocol"] = proto
	var key string
	if raw, ok := in["certConfig"].(map[string]any); ok {
		name, _ := raw["certName"].(string)
		certPEM, _ := raw["certificate"].(string)
		key, _ = raw["privateKey"].(string)
		c.entry.KeySent = key != ""
		c.entry.CertName = name
		if !fcCertNameRE.MatchString(name) {
			return nil, fcBad(fmt.Sprintf("cert name doesn't match expected format (allowed: '%s', actual: '%s')", fcCertNameRE, name))
		}
		if e := fcCheckKey(certPEM, key, s.certNow()); e != nil {
			return nil, e
		}
		conf["certConfig"] = map[string]any{"certName": name, "certificate": certPEM}
	}
	if strings.Contains(proto, "HTTPS") && conf["certConfig"] == nil {
		return nil, fcBad("certConfig is required when protocol is HTTPS or HTTP,HTTPS")
	}
	s.fc.mu.Lock()
	defer s.fc.mu.Unlock()
	d := s.fc.domains[strings.ToLower(p.Get("domainName"))]
	if d == nil {
		return nil, newAPIError(ProductFC, "DomainNameNotFound").withMessage("domain name " + p.Get("domainName") + " does not exist")
	}
	d.conf, d.keyPEM, d.modified = conf, key, time.Now().UTC()
	if cc, ok := conf["certConfig"].(map[string]any); ok && strings.Contains(proto, "HTTPS") {
		certPEM, _ := cc["certificate"].(string)
		s.edgeSet(d.name, certPEM, key) // the edge serves it by SNI, as FC's front does
	} else {
		s.edgeRemove(d.name)
	}
	return s.fc.answer(d), nil
}

// fcCheckKey checks a certificate and its key as FC does.
func fcCheckKey(certPEM, key string, now time.Time) *apiError {
	blk, _ := pem.Decode([]byte(key))
	if blk == nil || (blk.Type != "RSA PRIVATE KEY" && blk.Type != "EC PRIVATE KEY") {
		return fcBad("'private key' has to be in PEM format")
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "certificate", Data: []byte(certPEM)}, {Name: "privateKey", Data: []byte(key)}},
		bundle.Options{MaxSize: maxOpenAPIBody})
	switch {
	case errors.Is(err, bundle.ErrKeyMismatch):
		return fcBad("the private key does not match the certificate")
	case err != nil:
		return fcBad("'certificate' has to be in PEM format")
	case now.After(b.Leaf.NotAfter):
		return fcBad("the certificate has expired")
	}
	return nil
}

// FCDomain returns what a custom domain is configured with now.
func (s *Sim) FCDomain(name string) (FCDomain, bool) {
	s.fc.mu.Lock()
	defer s.fc.mu.Unlock()
	d := s.fc.domains[strings.ToLower(name)]
	if d == nil {
		return FCDomain{}, false
	}
	out := FCDomain{Name: d.name, Config: s.fc.answer(d), KeyPEM: d.keyPEM}
	out.Protocol, _ = d.conf["protocol"].(string)
	if cc, ok := d.conf["certConfig"].(map[string]any); ok {
		out.CertName, _ = cc["certName"].(string)
		if pemText, _ := cc["certificate"].(string); pemText != "" {
			if leaf, ok := firstCertificate(pemText); ok {
				out.Fingerprint = bundle.Fingerprint(leaf)
			}
		}
	}
	return out, true
}
