package manifest

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/certdrop/certdrop/internal/secureurl"
)

// MaxCertificates caps the certificates section: each is an ACME order on
// the timer, and a manifest is not a CA's customer database.
const MaxCertificates = 100

// MaxCertificateDomains caps the names of one certificate (Let's Encrypt
// issues at most 100 per certificate).
const MaxCertificateDomains = 100

// Certificate is one entry of the optional certificates section: a
// certificate certdrop itself obtains and renews through ACME with DNS-01,
// writing it to <trigger prefix><Name>/bundle.pem.
type Certificate struct {
	// Name is the folder under the watched prefix; unique in the manifest.
	Name string
	// Domains are the names to order, normalised (lower case, punycode,
	// "*.example.com" wildcards), in file order, without duplicates.
	Domains []string
	// Issuer is the issuer as written: letsencrypt, letsencrypt-staging,
	// zerossl, google, or a directory URL.
	Issuer string
	// Directory is the issuer's ACME directory URL.
	Directory string
	// Email is the account's contact address; may be empty.
	Email string
	// KeyType is the certificate key's type.
	KeyType KeyType
	// DNS says how DNS-01 records are written.
	DNS DNS
	// Profile is the ACME profile to ask for ("shortlived"); empty for the
	// CA's default.
	Profile string
	// RenewBefore renews when less than this is left; 0 means the CA's
	// renewal window (ARI), else a third of the lifetime.
	RenewBefore time.Duration
	// EAB names the environment variables holding the external account
	// binding, when the CA needs one; nil otherwise.
	EAB *EAB
	// Line is where the entry starts in the manifest.
	Line int
}

// KeyType is a certificate key algorithm and size.
type KeyType string

// The key types a certificate may ask for.
const (
	EC256   KeyType = "ec256"
	EC384   KeyType = "ec384"
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	RSA4096 KeyType = "rsa4096"
)

// KeyTypes lists the key types, the default first.
func KeyTypes() []KeyType { return []KeyType{EC256, EC384, RSA2048, RSA3072, RSA4096} }

// DNS providers a certificate may name.
const (
	DNSAlidns     = "alidns"
	DNSCloudflare = "cloudflare"
	DNSRFC2136    = "rfc2136"
	// DNSESA writes the records through ESA's record API, for sites whose
	// DNS is hosted on ESA (NS access).
	DNSESA = "esa"
)

// DNS is how a certificate's DNS-01 records are written. Secrets are never
// in the manifest: only the names of the environment variables that hold
// them, each starting with SecretEnvPrefix.
type DNS struct {
	// Provider is alidns, cloudflare, rfc2136 or esa.
	Provider string
	// APITokenEnv (cloudflare) names the variable with a Zone.DNS:Edit
	// token; default DefaultCloudflareTokenEnv.
	APITokenEnv string
	// Server (rfc2136) is the primary server, host:port.
	Server string
	// KeyName and KeyAlg (rfc2136) are the TSIG key's name and algorithm
	// (default hmac-sha256.); KeyEnv names the variable with its base64
	// secret. Both name and variable are required: updates are signed.
	KeyName, KeyAlg, KeyEnv string
}

// DefaultCloudflareTokenEnv is where the cloudflare provider reads its API
// token unless the manifest names another variable.
const DefaultCloudflareTokenEnv = SecretEnvPrefix + "CLOUDFLARE_API_TOKEN"

// EAB names the environment variables that hold an ACME external account
// binding: the key identifier and the base64url HMAC key. Both start with
// SecretEnvPrefix.
type EAB struct {
	KeyIDEnv  string
	MACKeyEnv string
}

// Issuers maps the issuer names a manifest may use to their directories.
func Issuers() map[string]string {
	return map[string]string{
		"letsencrypt":         "https://acme-v02.api.letsencrypt.org/directory",
		"letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
		"zerossl":             "https://acme.zerossl.com/v2/DV90",
		"google":              "https://dv.acme-v02.api.pki.goog/directory",
	}
}

// issuersNeedingEAB cannot register an account without a binding.
var issuersNeedingEAB = map[string]bool{"zerossl": true, "google": true}

// Field names of the certificates section.
var (
	certificateFields = []string{"name", "domains", "issuer", "email", "keyType", "dns", "profile", "renewBefore", "eab"}
	dnsFields         = []string{"provider", "apiTokenEnv", "server", "keyName", "keyAlg", "keyEnv"}
	eabFields         = []string{"keyIdEnv", "macKeyEnv"}
)

var (
	// folderName is what a certificate's name may be: one path segment
	// that OSS, a file system and a shell all take as it is.
	folderName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// envName is a portable environment variable name.
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	// emailAddress is loose on purpose: the CA checks the address; this
	// catches a list, a display name or a missing "@".
	emailAddress = regexp.MustCompile(`^[^@\x00-\x20\x7f,<>:;"']+@[^@\x00-\x20\x7f,<>:;"']+$`)
	// profileName is an ACME profile name.
	profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// durationText is "30d", "12h", "90m", or a sum such as "1d12h".
	durationText = regexp.MustCompile(`^([0-9]{1,6}[dhm])+$`)
)

// certificates reads the certificates section.
func (p *parser) certificates(raw *yaml.Node) []Certificate {
	list := resolve(raw)
	switch {
	case isNull(list):
		return nil
	case list.Kind != yaml.SequenceNode:
		p.errorf(raw, "certificates must be a list, not %s", describe(list))
		return nil
	}
	var out []Certificate
	names := map[string]int{}
	for i, n := range list.Content {
		if i == MaxCertificates {
			p.errorf(n, "too many certificates: a manifest lists at most %d", MaxCertificates)
			break
		}
		c, ok := p.certificate(n)
		if c.Name != "" {
			// Folder names compare case-insensitively: a bucket is
			// case-sensitive, a workstation's file system often not.
			key := strings.ToLower(c.Name)
			if line, dup := names[key]; dup {
				p.errorf(n, "certificate name %q is already used on line %d", c.Name, line)
				ok = false
			} else {
				names[key] = c.Line
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// certificate reads one entry of certificates; ok is false when it has
// errors.
func (p *parser) certificate(raw *yaml.Node) (Certificate, bool) {
	n := resolve(raw)
	if n.Kind != yaml.MappingNode {
		p.errorf(raw, "certificate must be a mapping, not %s", describe(n))
		return Certificate{}, false
	}
	before := len(p.errs)
	f := p.fields(n, "certificate", certificateFields)
	c := Certificate{Line: raw.Line, KeyType: EC256}

	if v := f.value("name"); v == nil {
		p.errorf(n, "certificate has no name (the folder its bundle is written to)")
	} else if s, ok := p.str(v, "name"); ok {
		if !folderName.MatchString(s) || strings.Contains(s, "..") {
			p.errorf(v, "certificate name %q is not a folder name: use letters, digits, '.', '-' and '_' (at most 128, no '..')", s)
		}
		c.Name = s
	}

	c.Domains = p.certDomains(n, f)

	issuerKey := "letsencrypt"
	if v := f.value("issuer"); v == nil {
		c.Issuer, c.Directory = issuerKey, Issuers()[issuerKey]
	} else if s, ok := p.str(v, "issuer"); ok {
		c.Issuer, issuerKey = s, s
		if dir, known := Issuers()[s]; known {
			c.Directory = dir
		} else if strings.Contains(s, "://") {
			if err := checkDirectoryURL(s); err != nil {
				p.errorf(v, "issuer %q: %v", s, err)
			}
			c.Directory = s
		} else {
			p.errorf(v, "unknown issuer %q%s", s, or(suggest(s, issuerNames()), " (want letsencrypt, letsencrypt-staging, zerossl, google or an https:// ACME directory URL)"))
		}
	}

	if v := f.value("email"); v != nil {
		if s, ok := p.str(v, "email"); ok && s != "" {
			if !emailAddress.MatchString(s) || len(s) > 254 {
				p.errorf(v, "email %q is not an e-mail address", s)
			}
			c.Email = s
		}
	}

	if v := f.value("keyType"); v != nil {
		if s, ok := p.str(v, "keyType"); ok {
			if !contains(KeyTypes(), KeyType(s)) {
				p.errorf(v, "unknown keyType %q (want ec256, ec384, rsa2048, rsa3072 or rsa4096)", s)
			}
			c.KeyType = KeyType(s)
		}
	}

	if v := f.value("dns"); v == nil {
		p.errorf(n, "certificate has no dns (how DNS-01 records are written: alidns, cloudflare, rfc2136 or esa)")
	} else {
		c.DNS = p.dns(v)
	}

	if v := f.value("profile"); v != nil {
		if s, ok := p.str(v, "profile"); ok {
			if s != "" && !profileName.MatchString(s) {
				p.errorf(v, "profile %q is not an ACME profile name", s)
			}
			c.Profile = s
		}
	}

	if v := f.value("renewBefore"); v != nil {
		if s, ok := p.str(v, "renewBefore"); ok && s != "" {
			d, err := parseRenewBefore(s)
			if err != nil {
				p.errorf(v, "renewBefore %q: %v", s, err)
			}
			c.RenewBefore = d
		}
	}

	if v := f.value("eab"); v != nil {
		c.EAB = p.eab(v)
	} else if issuersNeedingEAB[issuerKey] {
		p.errorf(n, "issuer %s needs an external account binding: add eab: {keyIdEnv: VAR, macKeyEnv: VAR}", issuerKey)
	}
	return c, len(p.errs) == before
}

// certDomains reads a certificate's domains: a non-empty list of host
// names or "*." wildcards, each once.
func (p *parser) certDomains(n *yaml.Node, f fields) []string {
	v := f.value("domains")
	if v == nil {
		p.errorf(n, "certificate has no domains")
		return nil
	}
	list := resolve(v)
	switch {
	case list.Kind != yaml.SequenceNode:
		p.errorf(v, "domains must be a list, not %s", describe(list))
		return nil
	case len(list.Content) == 0:
		p.errorf(v, "domains is empty")
		return nil
	case len(list.Content) > MaxCertificateDomains:
		p.errorf(v, "too many domains: a certificate has at most %d", MaxCertificateDomains)
		return nil
	}
	var out []string
	seen := map[string]int{}
	for _, d := range list.Content {
		s, ok := p.str(d, "domain")
		if !ok {
			continue
		}
		if strings.HasPrefix(s, ".") {
			p.errorf(d, "domain %q: a certificate's wildcard is written \"*%s\"", s, s)
			continue
		}
		norm, err := checkDomain(s)
		if err != nil {
			p.errorf(d, "%v", err)
			continue
		}
		if line, dup := seen[norm]; dup {
			p.errorf(d, "domain %s is already listed on line %d", s, line)
			continue
		}
		seen[norm] = d.Line
		out = append(out, norm)
	}
	return out
}

// dns reads a certificate's dns: a provider name, or a mapping with the
// provider's settings.
func (p *parser) dns(raw *yaml.Node) DNS {
	n := resolve(raw)
	var d DNS
	var f fields
	var at *yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		s, ok := p.str(raw, "dns")
		if !ok {
			return d
		}
		d.Provider, at = s, raw
	case yaml.MappingNode:
		f = p.fields(n, "dns", dnsFields)
		at = f.value("provider")
		if at == nil {
			p.errorf(raw, "dns has no provider (alidns, cloudflare, rfc2136 or esa)")
			return d
		}
		s, ok := p.str(at, "provider")
		if !ok {
			return d
		}
		d.Provider = s
	default:
		p.errorf(raw, "dns must be a provider name or a mapping, not %s", describe(n))
		return d
	}
	names := []string{DNSAlidns, DNSCloudflare, DNSRFC2136, DNSESA}
	if !contains(names, d.Provider) {
		p.errorf(at, "unknown dns provider %q%s", d.Provider, or(suggest(d.Provider, names), " (want alidns, cloudflare, rfc2136 or esa)"))
		return d
	}
	// Settings that belong to another provider are an error, not ignored.
	allowed := map[string][]string{
		DNSAlidns:     {"provider"},
		DNSESA:        {"provider"},
		DNSCloudflare: {"provider", "apiTokenEnv"},
		DNSRFC2136:    {"provider", "server", "keyName", "keyAlg", "keyEnv"},
	}[d.Provider]
	for _, e := range f.list {
		if !contains(allowed, e.name) {
			p.errorf(e.key, "%s is not a setting of the %s provider", e.name, d.Provider)
		}
	}
	env := func(name string, dst *string) {
		if v := f.value(name); v != nil {
			if s, ok := p.str(v, name); ok {
				if err := CheckSecretEnv(s); err != nil {
					p.errorf(v, "%s: %v", name, err)
				}
				*dst = s
			}
		}
	}
	text := func(name string, dst *string) {
		if v := f.value(name); v != nil {
			if s, ok := p.str(v, name); ok {
				*dst = s
			}
		}
	}
	switch d.Provider {
	case DNSCloudflare:
		d.APITokenEnv = DefaultCloudflareTokenEnv
		env("apiTokenEnv", &d.APITokenEnv)
	case DNSRFC2136:
		if n.Kind != yaml.MappingNode {
			p.errorf(raw, "rfc2136 needs its settings: dns: {provider: rfc2136, server: host:53, keyName: NAME, keyEnv: VAR}")
			return d
		}
		text("server", &d.Server)
		text("keyName", &d.KeyName)
		text("keyAlg", &d.KeyAlg)
		env("keyEnv", &d.KeyEnv)
		if d.Server == "" {
			p.errorf(raw, "rfc2136 needs server (host:port of the primary name server)")
		} else if _, port, err := splitHostPort(d.Server); err != nil || port == 0 {
			p.errorf(f.value("server"), "server %q must be host:port", d.Server)
		}
		if d.KeyName == "" || d.KeyEnv == "" {
			// Updates are always signed: an open dynamic-update server is
			// not something to rely on.
			p.errorf(raw, "rfc2136 needs keyName and keyEnv (the TSIG key's name, and the variable holding its secret)")
		}
		if d.KeyAlg == "" && d.KeyName != "" {
			d.KeyAlg = "hmac-sha256."
		}
	}
	return d
}

// eab reads a certificate's external account binding.
func (p *parser) eab(raw *yaml.Node) *EAB {
	n := resolve(raw)
	if n.Kind != yaml.MappingNode {
		p.errorf(raw, "eab must be a mapping with keyIdEnv and macKeyEnv, not %s", describe(n))
		return nil
	}
	f := p.fields(n, "eab", eabFields)
	e := &EAB{}
	for _, x := range []struct {
		name string
		dst  *string
	}{{"keyIdEnv", &e.KeyIDEnv}, {"macKeyEnv", &e.MACKeyEnv}} {
		v := f.value(x.name)
		if v == nil {
			p.errorf(raw, "eab has no %s (the environment variable that holds it)", x.name)
			continue
		}
		if s, ok := p.str(v, x.name); ok {
			if err := CheckSecretEnv(s); err != nil {
				p.errorf(v, "%s: %v", x.name, err)
			}
			*x.dst = s
		}
	}
	return e
}

// checkDirectoryURL accepts an https URL with a host and no user
// information, not at a link-local or instance metadata address however
// written (secureurl.CheckHost): the directory of a private or test CA.
func checkDirectoryURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL")
	case u.Scheme != "https" || !strings.HasPrefix(s, "https://"):
		return fmt.Errorf("an ACME directory URL must be https")
	case u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("an ACME directory URL needs a host, and no user or fragment")
	}
	if err := secureurl.CheckHost(u.Hostname()); err != nil {
		return err
	}
	return nil
}

// parseRenewBefore reads "30d", "12h", "90m" or a sum such as "1d12h".
func parseRenewBefore(s string) (time.Duration, error) {
	if !durationText.MatchString(s) {
		return 0, fmt.Errorf("write a duration such as 30d, 12h or 1d12h")
	}
	// The sum is kept in minutes and checked against the bound after each
	// term, so it never overflows: a term has at most six digits, and
	// 999999 days in nanoseconds is past what a time.Duration holds.
	const maxMinutes = int64(maxRenewBefore / time.Minute)
	var minutes int64
	for rest := s; rest != ""; {
		i := strings.IndexAny(rest, "dhm")
		v, _ := strconv.ParseInt(rest[:i], 10, 64)
		minutes += v * map[byte]int64{'d': 24 * 60, 'h': 60, 'm': 1}[rest[i]]
		if minutes > maxMinutes {
			return 0, fmt.Errorf("is more than ten years")
		}
		rest = rest[i+1:]
	}
	if minutes <= 0 {
		return 0, fmt.Errorf("must be more than zero (leave it out for the CA's renewal window)")
	}
	return time.Duration(minutes) * time.Minute, nil
}

// maxRenewBefore bounds renewBefore: longer than any certificate a CA
// issues (public ones at most 398 days; a private CA's may run for
// years), and far below what a time.Duration holds.
const maxRenewBefore = 3650 * 24 * time.Hour

// splitHostPort splits "host:port" and parses the port.
func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("no port")
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port")
	}
	return strings.Trim(s[:i], "[]"), port, nil
}

func issuerNames() []string {
	return []string{"letsencrypt", "letsencrypt-staging", "zerossl", "google"}
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
