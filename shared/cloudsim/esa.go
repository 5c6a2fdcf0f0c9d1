package cloudsim

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
)

// ProductESA is ESA, Edge Security Acceleration (product esa, API version
// 2024-09-10, RPC style), served on the OpenAPI listener
// (CERTDROP_ESA_ENDPOINT) with the same signature checks, quotas, faults
// and journal as every product. Its sites are configured under esa.sites:
// a site has an ID, an access type (NS: its DNS is hosted on ESA; CNAME:
// it is not), the certificates it carries and its certificate quota.
//
//	ListSites          SiteName, SiteSearchType (exact, or fuzzy: the default),
//	                   PageNumber, PageSize (1 to 500, default 20)
//	  -> TotalCount, PageNumber, PageSize, Sites[]: SiteId, SiteName, AccessType,
//	     Status ("active"), Coverage, CreateTime.
//	ListCertificates   SiteId (required), Keyword (name, CN or SAN contains),
//	                   ValidOnly, PageNumber, PageSize (1 to 500, default 20)
//	  -> TotalCount, PageNumber, PageSize, SiteId, SiteName, Result[]: Id, Name,
//	     Type (upload|cas|free), CasId, Region, Status (OK|Expiring|Expired),
//	     CommonName, SAN ("a,b"), Issuer, NotBefore, NotAfter ("2006-01-02 15:04:05",
//	     UTC), FingerprintSha256 (lower-case hex), SerialNumber, CreateTime, UpdateTime.
//	SetCertificate     SiteId, Type (upload|cas, required), Name, Certificate,
//	                   PrivateKey (upload), CasId, Region (cas), Id (replace that
//	                   certificate in place; not a free one)
//	  -> Id. Adding a certificate (no Id) to a site that carries its quota
//	     answers CertQuotaCheckFailed; a certificate the site already carries
//	     (the same SHA-256) Certificate.Duplicated.
//	DeleteCertificate  SiteId, Id (required) -> SiteId, SiteName, Id.
//	CreateRecord       SiteId, RecordName (the full name), Type, Data (JSON,
//	                   {"Value": ...}), Ttl (1: automatic, else 30 to 86400)
//	  -> RecordId (a number).
//	ListRecords        SiteId, RecordName, RecordMatchType (exact, or fuzzy: the
//	                   default), Type, PageNumber, PageSize (1 to 500)
//	  -> TotalCount, PageNumber, PageSize, Records[]: RecordId, RecordName,
//	     RecordType, Ttl, Data {Value}, SiteId, SiteName, CreateTime.
//	DeleteRecord       RecordId (required) -> RecordId.
//
// A site with accessType NS is a zone of the authoritative DNS server
// (dns_server.go), unknown to the alidns API: its records are answered
// there after the site's propagation delay, so that an ACME CA finds a
// challenge written through CreateRecord. A CNAME site's DNS is hosted
// elsewhere (it may be a zone of dns.zones, the alidns API's): the
// emulator keeps no records for it, and CreateRecord and ListRecords
// answer InvalidParameter saying so.
//
// Quotas: the ESA reference pages read (the operations above, help.aliyun.com
// and alibabacloud.com "api-esa-2024-09-10-*") document no per-second
// limit: the emulator applies 10 calls/s to each, certdrop's cautious
// default. Config.Quotas changes any of them.
//
// The certificate quota is the site plan's (two certificates on the free
// plan, as ESA users report: certd issues 609 and 713, certimate 888 and
// 1302); the vendor's pages do not give the figure per plan, so each site
// says its own (certificateQuota, default 2). Every certificate the site
// carries counts, free ones included.
//
// Errors: MissingSiteId, InvalidParameter (with a message naming the
// parameter), Certificate.StatusError and Certificate.Duplicated (the
// SetCertificate and DeleteCertificate pages' codes), CertQuotaCheckFailed
// (the code ESA users report for a full quota).
//
// Sources: https://help.aliyun.com/zh/edge-security-acceleration/esa/api-esa-2024-09-10-setcertificate,
// -listcertificates, -deletecertificate, -createrecord, -listsites,
// https://www.alibabacloud.com/help/en/edge-security-acceleration/esa/api-esa-2024-09-10-listcertificates,
// and the generated SDK (github.com/alibabacloud-go/esa-20240910, v2024-09-10:
// CreateRecord sends Data as a JSON string, ListCertificates answers
// FingerprintSha256 and SAN).
const ProductESA = "esa"

// esaVersion is the ESA API version.
const esaVersion = "2024-09-10"

// esaQuota is the emulator's calls per second for every ESA operation
// (undocumented: ProductESA).
const esaQuota = 10

// DefaultESACertificateQuota is a site's certificate quota when its
// configuration gives none: the free plan's, as users report it.
const DefaultESACertificateQuota = 2

// ESASettings configures ESA: the account's sites.
type ESASettings struct {
	Sites []ESASiteSettings `yaml:"sites"`
}

// ESASiteSettings is one ESA site.
type ESASiteSettings struct {
	// Name is the site's name, its apex: example.com.
	Name string `yaml:"name"`
	// ID is its SiteId; 0 derives one from the name.
	ID int64 `yaml:"id"`
	// AccessType is NS (the default: its DNS is hosted on ESA) or CNAME.
	AccessType string `yaml:"accessType"`
	// CertificateQuota is how many certificates the site may carry;
	// 0 means DefaultESACertificateQuota.
	CertificateQuota int `yaml:"certificateQuota"`
	// Propagation delays every record change on the DNS server.
	Propagation time.Duration `yaml:"propagation"`
	// Records are the site's DNS records before any call (NS sites).
	Records []RecordSettings `yaml:"records"`
	// Certificates are the certificates the site carries before any call.
	Certificates []ESACertSettings `yaml:"certificates"`
}

// ESACertSettings is a certificate a site carries before any call.
type ESACertSettings struct {
	// Name is its name on the site.
	Name string `yaml:"name"`
	// Type is upload (the default), cas or free.
	Type string `yaml:"type"`
	// Cert is the PEM chain; CertFile a file holding it, relative to the
	// configuration file.
	Cert     string `yaml:"cert"`
	CertFile string `yaml:"certFile"`
}

// ESACertificate is a certificate a site carries, as tests read it
// (Sim.ESACertificates).
type ESACertificate struct {
	ID, Name, Type string
	CasID, Region  string
	Fingerprint    string
	SANs           []string
	NotBefore      time.Time
	NotAfter       time.Time
	Updated        time.Time
}

// esaCert is one certificate of a site.
type esaCert struct {
	id, name, typ string
	casID, region string
	leaf          *x509.Certificate
	created       time.Time
	updated       time.Time
}

// esaSite is one site.
type esaSite struct {
	id     int64
	name   string
	access string
	quota  int
	certs  []*esaCert
}

// esaState holds the account's ESA sites. It is safe for concurrent use.
type esaState struct {
	mu     sync.Mutex
	sites  []*esaSite
	nextID int
}

// esaProduct registers ESA.
func esaProduct() productSpec {
	return productSpec{
		name: ProductESA, code: "ESA", host: "esa.cn-hangzhou.aliyuncs.com",
		env: []string{config.ESAEndpoint},
		errors: map[string]knownError{
			"MissingSiteId":           {400, "Required parameter SiteId missing. Specify SiteId and try again."},
			"Certificate.StatusError": {400, "The status of the certificate is invalid."},
			"CertQuotaCheckFailed":    {400, "The number of certificates of the site exceeds the quota of its plan."},
		},
		messages: map[string]string{"Certificate.Duplicated": "The certificate already exists on the site."},
		actions: []apiSpec{
			{action: "ListSites", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaListSites},
			{action: "ListCertificates", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaListCertificates},
			{action: "SetCertificate", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaSetCertificate},
			{action: "DeleteCertificate", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaDeleteCertificate},
			{action: "CreateRecord", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaCreateRecord},
			{action: "ListRecords", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaListRecords},
			{action: "DeleteRecord", version: esaVersion, quota: esaQuota, journal: esaJournal, handle: (*Sim).esaDeleteRecord},
		},
	}
}

// esaSiteID derives a site's ID from its name when none is configured.
func esaSiteID(name string) int64 {
	sum := sha256.Sum256([]byte(name))
	var n int64
	for _, b := range sum[:6] {
		n = n<<8 | int64(b)
	}
	return 1_000_000_000_000 + n%9_000_000_000_000
}

// validate checks the ESA settings.
func (e *ESASettings) validate(dnsZones []ZoneSettings) error {
	seen, zones := map[string]bool{}, map[string]bool{}
	ids := map[int64]bool{}
	for _, z := range dnsZones {
		zones[canonicalZone(z.Name)] = true
	}
	for i, st := range e.Sites {
		n := canonicalZone(st.Name)
		if n == "" || !strings.Contains(n, ".") {
			return fmt.Errorf("esa.sites[%d]: name %q is not a domain name with at least two labels", i, st.Name)
		}
		ns := !strings.EqualFold(st.AccessType, "CNAME")
		if seen[n] || (ns && zones[n]) {
			return fmt.Errorf("esa.sites[%d]: %s is configured twice (as a site, or as an NS site and a dns zone)", i, n)
		}
		seen[n] = true
		id := st.ID
		if id == 0 {
			id = esaSiteID(n)
		}
		if ids[id] {
			return fmt.Errorf("esa.sites[%d] %s: duplicate id %d", i, n, id)
		}
		ids[id] = true
		switch strings.ToUpper(st.AccessType) {
		case "", "NS", "CNAME":
		default:
			return fmt.Errorf("esa.sites[%d] %s: accessType must be NS or CNAME, not %q", i, n, st.AccessType)
		}
		if st.CertificateQuota < 0 || st.Propagation < 0 {
			return fmt.Errorf("esa.sites[%d] %s: certificateQuota and propagation must not be negative", i, n)
		}
		for j, r := range st.Records {
			if _, e := newZoneRecord(n, r.RR, r.Type, r.Value, r.TTL, r.Priority, 1); e != nil {
				return fmt.Errorf("esa.sites[%d] %s: records[%d]: %s", i, n, j, e.message)
			}
		}
		for j, c := range st.Certificates {
			if c.Name == "" {
				return fmt.Errorf("esa.sites[%d] %s: certificates[%d]: name is required", i, n, j)
			}
			switch c.Type {
			case "", "upload", "cas", "free":
			default:
				return fmt.Errorf("esa.sites[%d] %s: certificates[%d]: type must be upload, cas or free, not %q", i, n, j, c.Type)
			}
			if _, ok := firstCertificate(c.Cert); !ok {
				return fmt.Errorf("esa.sites[%d] %s: certificates[%d] %s: cert (certFile) holds no parsable certificate", i, n, j, c.Name)
			}
		}
	}
	return nil
}

// newESAState builds the sites; an NS site's zone joins st, served by the
// DNS server and unknown to the alidns API, a CNAME site's too but never
// published.
func newESAState(cfg ESASettings, st *dnsState, now time.Time) (*esaState, error) {
	es := &esaState{}
	for _, sc := range cfg.Sites {
		name := canonicalZone(sc.Name)
		site := &esaSite{id: sc.ID, name: name, access: strings.ToUpper(sc.AccessType), quota: sc.CertificateQuota}
		if site.id == 0 {
			site.id = esaSiteID(name)
		}
		if site.access == "" {
			site.access = "NS"
		}
		if site.quota == 0 {
			site.quota = DefaultESACertificateQuota
		}
		for _, cc := range sc.Certificates {
			leaf, _ := firstCertificate(cc.Cert)
			typ := cc.Type
			if typ == "" {
				typ = "upload"
			}
			site.certs = append(site.certs, &esaCert{id: es.newCertID(name), name: cc.Name, typ: typ, leaf: leaf,
				created: now, updated: now})
		}
		if site.access == "NS" {
			if err := st.addSiteZone(name, sc.Propagation, sc.Records, now); err != nil {
				return nil, err
			}
		}
		es.sites = append(es.sites, site)
	}
	return es, nil
}

// addSiteZone adds an NS site's zone: served by the DNS server, unknown
// to the alidns API (external).
func (st *dnsState) addSiteZone(name string, propagation time.Duration, recs []RecordSettings, now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	sum := sha256.Sum256([]byte("esa/" + name))
	h := hex.EncodeToString(sum[:16])
	z := &dnsZone{name: name, id: h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32],
		edition: EditionEnterprise, propagation: propagation, external: true,
		created: now, serial: 1}
	for _, rc := range recs {
		r, e := newZoneRecord(name, rc.RR, rc.Type, rc.Value, rc.TTL, rc.Priority, 1)
		if e != nil {
			return fmt.Errorf("cloudsim: esa site %s: %s", name, e.message)
		}
		st.nextID++
		r.id, r.created = st.nextID, now
		z.records = append(z.records, r)
		st.byID[r.id] = z
	}
	st.zones[name] = z
	return nil
}

// newCertID returns a certificate ID shaped like ESA's (32 hex digits).
// Callers hold es.mu or own es.
func (es *esaState) newCertID(site string) string {
	es.nextID++
	sum := sha256.Sum256([]byte(site + "/" + strconv.Itoa(es.nextID)))
	return "baba" + hex.EncodeToString(sum[:14])
}

// esaJournal names the site a call is about: its SiteName, or the site
// of its SiteId.
func esaJournal(s *Sim, c *call, p url.Values) {
	if n := canonicalZone(p.Get("SiteName")); n != "" {
		c.entry.Domain = n
		return
	}
	if id, err := strconv.ParseInt(p.Get("SiteId"), 10, 64); err == nil {
		s.esa.mu.Lock()
		if site := s.esa.siteLocked(id); site != nil {
			c.entry.Domain = site.name
		}
		s.esa.mu.Unlock()
	}
}

// siteLocked returns the site of id. Callers hold es.mu.
func (es *esaState) siteLocked(id int64) *esaSite {
	for _, s := range es.sites {
		if s.id == id {
			return s
		}
	}
	return nil
}

// esaBad is InvalidParameter with a message naming what is wrong.
func esaBad(format string, args ...any) *apiError {
	return newAPIError(ProductESA, "InvalidParameter").withMessage(fmt.Sprintf(format, args...))
}

// esaPage reads PageNumber and PageSize (1 to 500, default 20).
func esaPage(p url.Values) (number, size int, e *apiError) {
	number, size = 1, 20
	for _, f := range []struct {
		name string
		to   *int
		max  int
	}{{"PageNumber", &number, 1 << 20}, {"PageSize", &size, 500}} {
		if v := p.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > f.max {
				return 0, 0, esaBad("The specified %s is invalid.", f.name)
			}
			*f.to = n
		}
	}
	return number, size, nil
}

// esaSiteOf reads SiteId and returns its site. Callers hold s.esa.mu.
func (s *Sim) esaSiteOf(p url.Values) (*esaSite, *apiError) {
	v := p.Get("SiteId")
	if v == "" {
		return nil, newAPIError(ProductESA, "MissingSiteId")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	site := s.esa.siteLocked(id)
	if err != nil || site == nil {
		return nil, esaBad("The specified SiteId %s does not exist.", v)
	}
	return site, nil
}

// esaListSites answers ListSites.
func (s *Sim) esaListSites(c *call, p url.Values) (any, *apiError) {
	number, size, e := esaPage(p)
	if e != nil {
		return nil, e
	}
	name := canonicalZone(p.Get("SiteName"))
	exact := strings.EqualFold(p.Get("SiteSearchType"), "exact")
	s.esa.mu.Lock()
	defer s.esa.mu.Unlock()
	var match []*esaSite
	for _, site := range s.esa.sites {
		if matchKeyword(site.name, name, exact) {
			match = append(match, site)
		}
	}
	list := []map[string]any{}
	for _, site := range slicePage(match, number, size) {
		list = append(list, map[string]any{"SiteId": site.id, "SiteName": site.name, "AccessType": site.access,
			"Status": "active", "Coverage": "global", "CreateTime": "2024-09-10T00:00:00Z"})
	}
	return map[string]any{"RequestId": c.entry.RequestID, "TotalCount": len(match), "PageNumber": number,
		"PageSize": size, "Sites": list}, nil
}

// esaTime is ESA's certificate time format.
func esaTime(t time.Time) string { return t.UTC().Format(time.DateTime) }

// status is a certificate's ListCertificates status at now.
func (ec *esaCert) status(now time.Time) string {
	switch {
	case now.After(ec.leaf.NotAfter):
		return "Expired"
	case ec.leaf.NotAfter.Sub(now) < 30*24*time.Hour:
		return "Expiring"
	}
	return "OK"
}

// item is a certificate in ListCertificates' shape.
func (ec *esaCert) item(now time.Time) map[string]any {
	m := map[string]any{"Id": ec.id, "Name": ec.name, "Type": ec.typ, "Status": ec.status(now),
		"CommonName": ec.leaf.Subject.CommonName, "SAN": strings.Join(ec.leaf.DNSNames, ","),
		"Issuer": ec.leaf.Issuer.CommonName, "NotBefore": esaTime(ec.leaf.NotBefore), "NotAfter": esaTime(ec.leaf.NotAfter),
		"FingerprintSha256": bundle.Fingerprint(ec.leaf), "SerialNumber": ec.leaf.SerialNumber.Text(16),
		"CreateTime": esaTime(ec.created), "UpdateTime": esaTime(ec.updated)}
	if ec.typ == "cas" {
		m["CasId"], m["Region"] = ec.casID, ec.region
	}
	return m
}

// esaListCertificates answers ListCertificates.
func (s *Sim) esaListCertificates(c *call, p url.Values) (any, *apiError) {
	number, size, e := esaPage(p)
	if e != nil {
		return nil, e
	}
	now := s.certNow()
	s.esa.mu.Lock()
	defer s.esa.mu.Unlock()
	site, e := s.esaSiteOf(p)
	if e != nil {
		return nil, e
	}
	kw := strings.ToLower(p.Get("Keyword"))
	validOnly := p.Get("ValidOnly") == "true" || p.Get("ValidOnly") == "1"
	var match []*esaCert
	for _, ec := range site.certs {
		text := strings.ToLower(ec.name + " " + ec.leaf.Subject.CommonName + " " + strings.Join(ec.leaf.DNSNames, ","))
		if (kw == "" || strings.Contains(text, kw)) && (!validOnly || ec.status(now) != "Expired") {
			match = append(match, ec)
		}
	}
	list := []map[string]any{}
	for _, ec := range slicePage(match, number, size) {
		list = append(list, ec.item(now))
	}
	return map[string]any{"RequestId": c.entry.RequestID, "TotalCount": len(match), "PageNumber": number,
		"PageSize": size, "SiteId": site.id, "SiteName": site.name, "Result": list}, nil
}

// esaSetCertificate answers SetCertificate: a certificate added to the
// site within its quota, or the one of Id replaced in place.
func (s *Sim) esaSetCertificate(c *call, p url.Values) (any, *apiError) {
	now := s.certNow()
	typ := p.Get("Type")
	var leaf *x509.Certificate
	name := p.Get("Name")
	var casID, region string
	switch typ {
	case "":
		return nil, esaBad("Type is mandatory for this action.")
	case "upload":
		if name == "" {
			return nil, esaBad("Name is mandatory when Type is upload.")
		}
		b, e := esaCheckPair(p.Get("Certificate"), p.Get("PrivateKey"), now)
		if e != nil {
			return nil, e
		}
		leaf = b.Leaf
	case "cas":
		casID, region = p.Get("CasId"), p.Get("Region")
		id, err := strconv.ParseInt(casID, 10, 64)
		if err != nil || region == "" {
			return nil, esaBad("CasId and Region are mandatory when Type is cas.")
		}
		cc, ok := s.lookupCAS(region, id, "")
		if !ok {
			return nil, esaBad("The certificate %s does not exist in Certificate Management Service %s.", casID, region)
		}
		if now.After(cc.leaf.NotAfter) {
			return nil, newAPIError(ProductESA, "Certificate.StatusError")
		}
		leaf = cc.leaf
		if name == "" {
			name = cc.name
		}
	default:
		return nil, esaBad("The specified Type %q is not supported: upload or cas.", typ)
	}
	s.esa.mu.Lock()
	defer s.esa.mu.Unlock()
	site, e := s.esaSiteOf(p)
	if e != nil {
		return nil, e
	}
	fp := bundle.Fingerprint(leaf)
	id := p.Get("Id")
	for _, ec := range site.certs {
		if ec.id != id && bundle.Fingerprint(ec.leaf) == fp {
			return nil, newAPIError(ProductESA, "Certificate.Duplicated")
		}
	}
	if id != "" {
		i := slices.IndexFunc(site.certs, func(ec *esaCert) bool { return ec.id == id })
		if i < 0 {
			return nil, esaBad("The specified certificate Id %s does not exist on the site.", id)
		}
		ec := site.certs[i]
		if ec.typ == "free" {
			return nil, newAPIError(ProductESA, "Certificate.StatusError").withMessage("A free certificate cannot be replaced by SetCertificate.")
		}
		ec.name, ec.typ, ec.casID, ec.region, ec.leaf, ec.updated = name, typ, casID, region, leaf, now
		return map[string]any{"RequestId": c.entry.RequestID, "Id": ec.id}, nil
	}
	if len(site.certs) >= site.quota {
		return nil, newAPIError(ProductESA, "CertQuotaCheckFailed").withMessage(fmt.Sprintf(
			"The site %s carries %d certificates: its plan's quota is %d.", site.name, len(site.certs), site.quota))
	}
	ec := &esaCert{id: s.esa.newCertID(site.name), name: name, typ: typ, casID: casID, region: region, leaf: leaf,
		created: now, updated: now}
	site.certs = append(site.certs, ec)
	return map[string]any{"RequestId": c.entry.RequestID, "Id": ec.id}, nil
}

// esaCheckPair validates an uploaded certificate and key.
func esaCheckPair(pub, pri string, now time.Time) (*bundle.Bundle, *apiError) {
	if pub == "" || pri == "" {
		return nil, esaBad("Certificate and PrivateKey are mandatory when Type is upload.")
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "Certificate", Data: []byte(pub)}, {Name: "PrivateKey", Data: []byte(pri)}},
		bundle.Options{MaxSize: maxOpenAPIBody})
	switch {
	case errors.Is(err, bundle.ErrKeyMismatch):
		return nil, esaBad("The private key does not match the certificate.")
	case err != nil:
		return nil, esaBad("The certificate or private key is not valid PEM.")
	case now.After(b.Leaf.NotAfter):
		return nil, newAPIError(ProductESA, "Certificate.StatusError").withMessage("The certificate has expired.")
	}
	return b, nil
}

// esaDeleteCertificate answers DeleteCertificate.
func (s *Sim) esaDeleteCertificate(c *call, p url.Values) (any, *apiError) {
	s.esa.mu.Lock()
	defer s.esa.mu.Unlock()
	site, e := s.esaSiteOf(p)
	if e != nil {
		return nil, e
	}
	id := p.Get("Id")
	i := slices.IndexFunc(site.certs, func(ec *esaCert) bool { return ec.id == id })
	if id == "" || i < 0 {
		return nil, esaBad("The specified certificate Id %q does not exist on the site.", id)
	}
	site.certs = slices.Delete(site.certs, i, i+1)
	return map[string]any{"RequestId": c.entry.RequestID, "SiteId": site.id, "SiteName": site.name, "Id": id}, nil
}

// esaRR is a record's host part within its site's zone.
func esaRR(site, name string) (string, bool) {
	name = canonicalZone(name)
	if name == site {
		return "@", true
	}
	rr, ok := strings.CutSuffix(name, "."+site)
	return rr, ok && rr != ""
}

// esaNSSite returns the site of SiteId when its DNS records are hosted
// on ESA (an NS site).
func (s *Sim) esaNSSite(p url.Values) (*esaSite, *apiError) {
	s.esa.mu.Lock()
	site, e := s.esaSiteOf(p)
	s.esa.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if site.access != "NS" {
		return nil, esaBad("The site %s is connected by CNAME: its DNS records are not hosted on ESA.", site.name)
	}
	return site, nil
}

// esaCreateRecord answers CreateRecord.
func (s *Sim) esaCreateRecord(c *call, p url.Values) (any, *apiError) {
	site, e := s.esaNSSite(p)
	if e != nil {
		return nil, e
	}
	rr, ok := esaRR(site.name, p.Get("RecordName"))
	if !ok {
		return nil, esaBad("The specified RecordName %q is not a name of the site %s.", p.Get("RecordName"), site.name)
	}
	var data struct {
		Value string `json:"Value"`
	}
	if err := json.Unmarshal([]byte(p.Get("Data")), &data); err != nil || data.Value == "" {
		return nil, esaBad("Data must be a JSON object with the record's Value.")
	}
	ttl := 1
	if v := p.Get("Ttl"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 1 && (n < 30 || n > maxTTL)) {
			return nil, esaBad("The specified Ttl is invalid: 1 (automatic) or 30 to %d.", maxTTL)
		}
		ttl = n
	}
	served := ttl
	if served == 1 {
		served = 300 // automatic
	}
	r, ae := s.dns.add(site.name, rr, p.Get("Type"), data.Value, served, 0, "", false)
	if ae != nil {
		return nil, esaBad("%s", ae.message)
	}
	c.entry.RecordID, c.entry.RR, c.entry.RecordType, c.entry.Value = strconv.FormatInt(r.id, 10), r.rr, r.typ, r.value
	return map[string]any{"RequestId": c.entry.RequestID, "RecordId": r.id}, nil
}

// esaListRecords answers ListRecords.
func (s *Sim) esaListRecords(c *call, p url.Values) (any, *apiError) {
	number, size, e := esaPage(p)
	if e != nil {
		return nil, e
	}
	site, e := s.esaNSSite(p)
	if e != nil {
		return nil, e
	}
	name := canonicalZone(p.Get("RecordName"))
	exact := strings.EqualFold(p.Get("RecordMatchType"), "exact")
	typ := p.Get("Type")
	st := s.dns
	st.mu.Lock()
	z := st.zones[site.name]
	var match []map[string]any
	for _, r := range z.records {
		full := ownerName(site.name, r.rr)
		if !matchKeyword(full, name, exact) || (typ != "" && !strings.EqualFold(typ, r.typ)) {
			continue
		}
		match = append(match, map[string]any{"RecordId": r.id, "RecordName": full, "RecordType": r.typ,
			"Ttl": r.ttl, "Data": map[string]any{"Value": r.value}, "SiteId": site.id, "SiteName": site.name,
			"CreateTime": r.created.UTC().Format(time.RFC3339)})
	}
	st.mu.Unlock()
	list := slicePage(match, number, size)
	if list == nil {
		list = []map[string]any{}
	}
	return map[string]any{"RequestId": c.entry.RequestID, "TotalCount": len(match), "PageNumber": number,
		"PageSize": size, "Records": list}, nil
}

// esaDeleteRecord answers DeleteRecord.
func (s *Sim) esaDeleteRecord(c *call, p url.Values) (any, *apiError) {
	id := p.Get("RecordId")
	if id == "" {
		return nil, esaBad("RecordId is mandatory for this action.")
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	s.dns.mu.Lock()
	z := s.dns.byID[n]
	s.dns.mu.Unlock()
	s.esa.mu.Lock()
	isSite := z != nil && slices.ContainsFunc(s.esa.sites, func(site *esaSite) bool { return site.name == z.name })
	s.esa.mu.Unlock()
	if !isSite {
		return nil, esaBad("The specified RecordId %s does not exist.", id)
	}
	r, ae := s.dns.remove(id, false)
	if ae != nil {
		return nil, esaBad("The specified RecordId %s does not exist.", id)
	}
	c.entry.Domain = r.Zone
	c.entry.RecordID, c.entry.RR, c.entry.RecordType, c.entry.Value = r.RecordID, r.RR, r.Type, r.Value
	return map[string]any{"RequestId": c.entry.RequestID, "RecordId": n}, nil
}

// ESACertificates lists what an ESA site carries now, in the order
// ListCertificates lists it; false when there is no such site.
func (s *Sim) ESACertificates(site string) ([]ESACertificate, bool) {
	s.esa.mu.Lock()
	defer s.esa.mu.Unlock()
	for _, st := range s.esa.sites {
		if st.name != canonicalZone(site) {
			continue
		}
		out := []ESACertificate{}
		for _, ec := range st.certs {
			out = append(out, ESACertificate{ID: ec.id, Name: ec.name, Type: ec.typ, CasID: ec.casID, Region: ec.region,
				Fingerprint: bundle.Fingerprint(ec.leaf), SANs: slices.Clone(ec.leaf.DNSNames),
				NotBefore: ec.leaf.NotBefore, NotAfter: ec.leaf.NotAfter, Updated: ec.updated})
		}
		return out, true
	}
	return nil, false
}

// ESASiteID returns an ESA site's SiteId.
func (s *Sim) ESASiteID(site string) (int64, bool) {
	s.esa.mu.Lock()
	defer s.esa.mu.Unlock()
	for _, st := range s.esa.sites {
		if st.name == canonicalZone(site) {
			return st.id, true
		}
	}
	return 0, false
}
