package cloudsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/certdrop/certdrop/shared/config"
)

// ProductDNS is the Alibaba Cloud DNS OpenAPI (product alidns, version
// 2015-01-09, RPC style), served on the OpenAPI listener with the same
// signature checks, quotas, fault injection and journal as every product. Point a client
// at it with CERTDROP_ALIDNS_ENDPOINT (Sim.Env). Every answer is JSON;
// errors are {"RequestId","HostId":"alidns.aliyuncs.com","Code","Message",
// "Recommend"} with HTTP 400 unless noted.
//
// Actions, parameters (all form or query strings) and response fields:
//
//	DescribeDomains          PageNumber (default 1), PageSize (default 20, max 100),
//	                         KeyWord (%KeyWord%, case-insensitive; SearchMode=EXACT for equality)
//	  -> TotalCount, PageNumber, PageSize, Domains.Domain[]: DomainId, DomainName,
//	     PunyCode, AliDomain (false), VersionCode (mianfei|version_personal|version_enterprise_basic),
//	     VersionName, RecordCount, DnsServers.DnsServer[] (the emulator's name servers),
//	     CreateTime, CreateTimestamp. Newest zone first.
//	GetMainDomainName        InputString (required, at most 128 characters)
//	  -> DomainName, RR, DomainLevel. DomainName is the registrable domain of InputString
//	     (public suffix list), as the real API answers, whether or not it is a zone of the
//	     account; DomainLevel counts InputString's labels below the public suffix. To find
//	     the zone that holds a name, list DescribeDomains and take the longest suffix.
//	     Errors: InvalidDomainName.Format, QuotaExceeded.StringLength.
//	DescribeDomainRecords    DomainName (required), PageNumber (default 1), PageSize
//	                         (default 20, max 500), RRKeyWord and ValueKeyWord (%kw%,
//	                         case-insensitive; with SearchMode=EXACT, equality), TypeKeyWord
//	                         or Type (exact, case-insensitive), KeyWord (RR or Value contains)
//	  -> TotalCount, PageNumber, PageSize, DomainRecords.Record[] (newest first).
//	     Errors: InvalidDomainName.NoExist.
//	DescribeSubDomainRecords SubDomain (required, e.g. _acme-challenge.www.example.com),
//	                         DomainName (optional: the zone; default the registrable domain
//	                         of SubDomain), Type, PageNumber (default 1), PageSize (default 20,
//	                         1 to 100, as the current reference has it; an older edition
//	                         said 500: a PageSize over 100 is refused InvalidParameter)
//	  -> TotalCount, PageNumber, PageSize, DomainRecords.Record[] (newest first).
//	     Errors: InvalidDomainName.NoExist.
//	DescribeDomainRecordInfo RecordId (required)
//	  -> the Record fields below at top level. Errors: DomainRecordNotBelongToUser.
//	AddDomainRecord          DomainName, RR ("@" for the apex), Type (A, AAAA, CNAME, TXT,
//	                         MX, NS, CAA), Value (required); TTL (default 600; 600..86400 on
//	                         the free and personal editions, 1..86400 on enterprise),
//	                         Priority (MX, 1..50, default 10), Line (only "default")
//	  -> RecordId. Errors: InvalidDomainName.NoExist, QuotaExceeded.TTL,
//	     DomainRecordDuplicate (same RR, Type, Value and Line), DomainRecordConflict
//	     (a CNAME beside another record of the same RR), QuotaExceeded.Record (more than
//	     90 records of one RR, Type and Line), LastOperationNotFinished (DNSSettings.WriteSettle),
//	     Missing<Param>, InvalidParameter.
//	DeleteDomainRecord       RecordId (required)
//	  -> RecordId. Errors: DomainRecordNotBelongToUser, LastOperationNotFinished.
//
// Every action naming a zone (DomainName, or the zone of RecordId or
// SubDomain) answers Forbidden.RAM (HTTP 403) to a key whose
// credentials.dnsZones does not list that zone, as a RAM policy scoped to
// acs:alidns::<account>:domain/<zone> does; credentials.denyActions denies
// actions outright. A zone configured external: true is served by the DNS
// server but unknown to the API (InvalidDomainName.NoExist,
// DomainRecordNotBelongToUser, absent from DescribeDomains).
//
// Record fields: DomainName, RecordId, RR, Type, Value, TTL, Priority (MX
// only), Line ("default"), Status ("ENABLE"), Locked (false), Weight (1),
// CreateTimestamp, UpdateTimestamp (Unix milliseconds). Numbers are JSON
// numbers, IDs strings. Record values are stored as given: a CNAME, NS or
// MX target without its final dot.
//
// The journal has one entry per call (Service "alidns"): Domain is the
// zone, and AddDomainRecord/DeleteDomainRecord entries carry RR,
// RecordType, Value and RecordID, so a test can pair every add with its
// delete; Sim.DNSRecords lists what a zone holds now. The authoritative
// DNS server (dns_server.go, CERTDROP_DNS_RESOLVERS) serves the same zones:
// a change is visible at once unless the zone sets a propagation delay or
// unpublished. Its NS records name the emulator's name servers
// (dns.nameServers), whose A records are the server's own address: an
// authoritative check should query them on the server's port.
//
// Throttling answers Throttling.User (HTTP 400) with the
// x-ratelimit-user-api header, as the other products, past the documented
// per-account quotas (https://www.alibabacloud.com/help/en/dns/api-alidns-2015-01-09-quota):
// AddDomainRecord and DeleteDomainRecord 60/s, DescribeDomainRecords 100/s,
// DescribeSubDomainRecords 300/s, DescribeDomainRecordInfo 200/s;
// DescribeDomains and GetMainDomainName, not listed there, 10/s (the
// emulator's choice). Since 15 January 2025 the vendor also throttles
// "intelligently" below these
// (https://www.alibabacloud.com/en/notice/notice_on_api_throttling_of_alibaba_cloud_dns_444):
// faults.throttleRate emulates that. Config.Quotas overrides any of them.
//
// Sources: the API reference pages
// https://www.alibabacloud.com/help/en/dns/api-alidns-2015-01-09-adddomainrecord,
// -deletedomainrecord, -describedomains, -describedomainrecords,
// -describesubdomainrecords, -getmaindomainname (help.aliyun.com document
// 29755, 29773, 29751, 29778); error codes from the same pages' older
// editions (IncorrectDomainUser, DomainRecordDuplicate, DomainRecordConflict,
// QuotaExceeded.Record, DomainRecordNotBelongToUser, InvalidDomainName.Format,
// QuotaExceeded.StringLength) and from answers seen in the field:
// QuotaExceeded.TTL "The specified TTL is invalid. A valid TTL must be in
// the range of 600 to 86400." (github.com/jeessy2/ddns-go issue 280),
// InvalidDomainName.NoExist "The specified domain name does not exist.
// Refresh the page and try again.", LastOperationNotFinished (retried by
// terraform-provider-alicloud PR 3813 and 5400 when records of one domain
// are written concurrently); TTL minimums per edition from
// https://www.alibabacloud.com/help/en/dns/ttl-definition.
const ProductDNS = "alidns"

// dnsProduct registers Alibaba Cloud DNS.
func dnsProduct() productSpec {
	return productSpec{
		name: ProductDNS, code: "Alidns", host: "alidns.aliyuncs.com",
		env:       []string{config.AliDNSEndpoint},
		errors:    dnsErrors(),
		authorize: dnsAuthorize,
		// Alibaba Cloud DNS's "API rate quota" page
		// (https://www.alibabacloud.com/help/en/dns/api-alidns-2015-01-09-quota)
		// lists the record operations; DescribeDomains and
		// GetMainDomainName are not listed: 10/s is the emulator's choice.
		actions: []apiSpec{
			{action: "DescribeDomains", version: "2015-01-09", quota: 10, journal: dnsJournal, handle: (*Sim).dnsDescribeDomains},
			{action: "GetMainDomainName", version: "2015-01-09", quota: 10, journal: dnsJournal, handle: (*Sim).dnsGetMainDomainName},
			{action: "DescribeDomainRecords", version: "2015-01-09", quota: 100, journal: dnsJournal, handle: (*Sim).dnsDescribeRecords},
			{action: "DescribeSubDomainRecords", version: "2015-01-09", quota: 300, journal: dnsJournal, handle: (*Sim).dnsDescribeRecords},
			{action: "DescribeDomainRecordInfo", version: "2015-01-09", quota: 200, journal: dnsJournal, handle: (*Sim).dnsDescribeRecordInfo},
			{action: "AddDomainRecord", version: "2015-01-09", quota: 60, journal: dnsJournal, handle: (*Sim).dnsAddRecord},
			{action: "DeleteDomainRecord", version: "2015-01-09", quota: 60, journal: dnsJournal, handle: (*Sim).dnsDeleteRecord},
		},
	}
}

// dnsErrors are the codes of Alibaba Cloud DNS (ProductDNS lists the
// sources).
func dnsErrors() map[string]knownError {
	return map[string]knownError{
		"MissingDomainName":           {400, "DomainName is mandatory for this action."},
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

// dnsJournal names the zone a call is about when it has no DomainName
// (callDomain), for the journal and the fault rules.
func dnsJournal(s *Sim, c *call, p url.Values) {
	if c.entry.Domain == "" {
		c.entry.Domain = s.dns.callDomain(p)
	}
}

// dnsAuthorize refuses a call about a zone the credential's DNSZones does
// not list, as a RAM policy scoped to acs:alidns::<account>:domain/<zone>
// does (Forbidden.RAM, HTTP 403).
func dnsAuthorize(cred Credential, c *call) *apiError {
	if len(cred.DNSZones) > 0 && c.entry.Domain != "" &&
		!slices.ContainsFunc(cred.DNSZones, func(z string) bool { return canonicalZone(z) == c.entry.Domain }) {
		return newAPIError(ProductDNS, "Forbidden.RAM")
	}
	return nil
}

// maxRecordsPerRRSet is the documented cap on records of one RR, Type and
// Line (QuotaExceeded.Record).
const maxRecordsPerRRSet = 90

// DNSRecord is one record of a zone, as the API describes it and as tests
// read it with Sim.DNSRecords.
type DNSRecord struct {
	Zone     string
	RecordID string
	// RR is the host record, lower case: "@", "www", "_acme-challenge".
	RR       string
	Type     string
	Value    string
	TTL      int
	Priority int
	Created  time.Time
	// Visible reports whether the DNS server serves the record now.
	Visible bool
}

// Name is the record's owner name without the final dot.
func (r DNSRecord) Name() string { return ownerName(r.Zone, r.RR) }

// zoneRecord is one stored record.
type zoneRecord struct {
	id       int64
	rr       string // lower case
	typ      string // upper case
	value    string
	ttl      int
	priority int
	created  time.Time
	rrs      []dns.RR // what the DNS server answers for it
	// visibleAt is when the DNS server starts serving the record; never
	// when hidden. goneAt, once set, is when it stops.
	visibleAt time.Time
	hidden    bool
	goneAt    time.Time
}

// servedAt reports whether the DNS server serves the record at now.
func (r *zoneRecord) servedAt(now time.Time) bool {
	return !r.hidden && !now.Before(r.visibleAt) && (r.goneAt.IsZero() || now.Before(r.goneAt))
}

// dnsZone is one zone of the account.
type dnsZone struct {
	name        string
	id          string
	edition     string
	propagation time.Duration
	unpublished bool
	// external zones are served by the DNS server but unknown to the API.
	external bool
	created  time.Time
	// records are the API's view; ghosts were deleted through the API but
	// are still served until their goneAt.
	records   []*zoneRecord
	ghosts    []*zoneRecord
	lastWrite time.Time
	// serial is the SOA serial, counting changes.
	serial uint32
}

// dnsState holds the account's zones. It is safe for concurrent use.
type dnsState struct {
	mu          sync.Mutex
	zones       map[string]*dnsZone
	byID        map[int64]*dnsZone
	nextID      int64
	nameServers []string // canonical, no final dot
	settle      time.Duration
	now         func() time.Time
}

func newDNSState(cfg DNSSettings, now func() time.Time) (*dnsState, error) {
	st := &dnsState{zones: map[string]*dnsZone{}, byID: map[int64]*dnsZone{}, nextID: 100000000,
		settle: cfg.WriteSettle, now: now}
	for _, ns := range cfg.NameServers {
		st.nameServers = append(st.nameServers, canonicalZone(ns))
	}
	if len(st.nameServers) == 0 {
		st.nameServers = defaultNameServers()
	}
	created := now().Add(-time.Duration(len(cfg.Zones)) * time.Minute)
	for i, zc := range cfg.Zones {
		name := canonicalZone(zc.Name)
		sum := sha256.Sum256([]byte(name))
		h := hex.EncodeToString(sum[:16])
		z := &dnsZone{
			name:        name,
			id:          h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32],
			edition:     zc.Edition,
			propagation: zc.Propagation,
			unpublished: zc.Unpublished,
			external:    zc.External,
			created:     created.Add(time.Duration(i) * time.Minute),
			serial:      1,
		}
		if z.edition == "" {
			z.edition = EditionFree
		}
		for _, rc := range zc.Records {
			r, e := newZoneRecord(name, rc.RR, rc.Type, rc.Value, rc.TTL, rc.Priority, 1)
			if e != nil {
				return nil, fmt.Errorf("cloudsim: zone %s: %s", name, e.message)
			}
			st.nextID++
			r.id, r.created = st.nextID, z.created
			z.records = append(z.records, r)
			st.byID[r.id] = z
		}
		st.zones[name] = z
	}
	return st, nil
}

// ownerName joins a host record and a zone.
func ownerName(zone, rr string) string {
	if rr == "@" || rr == "" {
		return zone
	}
	return rr + "." + zone
}

// hostnameValue reports whether values of typ are host names.
func hostnameValue(typ string) bool { return typ == "CNAME" || typ == "NS" || typ == "MX" }

// newZoneRecord validates a record in the API's terms and builds the DNS
// answer for it. TTL 0 means the default 600; priority 0 means 10 for MX.
func newZoneRecord(zone, rr, typ, value string, ttl, priority, minimumTTL int) (*zoneRecord, *apiError) {
	bad := func(msg string) *apiError {
		return newAPIError(ProductDNS, "InvalidParameter").withMessage(msg)
	}
	rr = strings.ToLower(strings.TrimSpace(rr))
	typ = strings.ToUpper(strings.TrimSpace(typ))
	value = strings.TrimSpace(value)
	switch {
	case rr == "":
		return nil, newAPIError(ProductDNS, "MissingRR")
	case typ == "":
		return nil, newAPIError(ProductDNS, "MissingType")
	case value == "":
		return nil, newAPIError(ProductDNS, "MissingValue")
	}
	if !slices.Contains(dnsRecordTypes(), typ) {
		return nil, bad(fmt.Sprintf("The specified Type %q is not supported by the emulator.", typ))
	}
	if rr != "@" {
		for i, label := range strings.Split(rr, ".") {
			if label == "*" && i == 0 {
				continue
			}
			if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
				strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				return nil, bad("The specified RR is invalid.")
			}
		}
	}
	owner := dns.Fqdn(ownerName(zone, rr))
	if _, ok := dns.IsDomainName(owner); !ok || len(owner) > 254 {
		return nil, bad("The specified RR is invalid.")
	}
	if ttl == 0 {
		ttl = 600
	}
	if ttl < minimumTTL || ttl > maxTTL {
		return nil, newAPIError(ProductDNS, "QuotaExceeded.TTL").withMessage(
			fmt.Sprintf("The specified TTL is invalid. A valid TTL must be in the range of %d to %d.", minimumTTL, maxTTL))
	}
	if typ == "MX" {
		if priority == 0 {
			priority = 10
		}
		if priority < 1 || priority > 50 {
			return nil, bad("The specified Priority is invalid. A valid Priority must be in the range of 1 to 50.")
		}
	} else {
		priority = 0
	}
	if hostnameValue(typ) {
		value = strings.TrimSuffix(value, ".")
		if _, ok := dns.IsDomainName(value); !ok || value == "" {
			return nil, bad("The specified Value is not a valid domain name.")
		}
	}
	hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: uint32(ttl)}
	var rrs []dns.RR
	switch typ {
	case "A":
		ip := net.ParseIP(value)
		if ip == nil || ip.To4() == nil {
			return nil, bad("The specified Value is not a valid IPv4 address.")
		}
		hdr.Rrtype = dns.TypeA
		rrs = append(rrs, &dns.A{Hdr: hdr, A: ip.To4()})
	case "AAAA":
		ip := net.ParseIP(value)
		if ip == nil || ip.To4() != nil {
			return nil, bad("The specified Value is not a valid IPv6 address.")
		}
		hdr.Rrtype = dns.TypeAAAA
		rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: ip})
	case "TXT":
		if len(value) > 4096 {
			return nil, bad("The specified Value is too long.")
		}
		hdr.Rrtype = dns.TypeTXT
		rrs = append(rrs, &dns.TXT{Hdr: hdr, Txt: splitTXT(value)})
	case "CNAME":
		hdr.Rrtype = dns.TypeCNAME
		rrs = append(rrs, &dns.CNAME{Hdr: hdr, Target: dns.Fqdn(strings.ToLower(value))})
	case "NS":
		hdr.Rrtype = dns.TypeNS
		rrs = append(rrs, &dns.NS{Hdr: hdr, Ns: dns.Fqdn(strings.ToLower(value))})
	case "MX":
		hdr.Rrtype = dns.TypeMX
		rrs = append(rrs, &dns.MX{Hdr: hdr, Preference: uint16(priority), Mx: dns.Fqdn(strings.ToLower(value))})
	case "CAA":
		r, err := dns.NewRR(owner + " " + strconv.Itoa(ttl) + " IN CAA " + value)
		if err != nil || r == nil {
			return nil, bad(`The specified Value is not a valid CAA record, e.g. 0 issue "letsencrypt.org".`)
		}
		rrs = append(rrs, r)
	}
	return &zoneRecord{rr: rr, typ: typ, value: value, ttl: ttl, priority: priority, rrs: rrs}, nil
}

// splitTXT cuts a TXT value into character-strings of at most 255 bytes.
func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// sameValue compares record values as the API does: host names without
// regard to case or a final dot, anything else exactly.
func sameValue(typ, a, b string) bool {
	if hostnameValue(typ) {
		return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
	}
	if typ == "A" || typ == "AAAA" {
		return net.ParseIP(a).Equal(net.ParseIP(b))
	}
	return a == b
}

// zoneOf returns the account's zone holding name (the longest suffix),
// nil if none. Callers hold st.mu.
func (st *dnsState) zoneOf(name string) *dnsZone {
	name = canonicalZone(name)
	for {
		if z := st.zones[name]; z != nil {
			return z
		}
		_, rest, ok := strings.Cut(name, ".")
		if !ok {
			return nil
		}
		name = rest
	}
}

// add stores a record after the API's checks. The change reaches the DNS
// server after the zone's propagation delay, or never when unpublished.
// viaAPI applies the write-settle rule and counts the write for it.
func (st *dnsState) add(zone, rr, typ, value string, ttl, priority int, line string, viaAPI bool) (*zoneRecord, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	z := st.zones[canonicalZone(zone)]
	if z == nil || (viaAPI && z.external) {
		return nil, newAPIError(ProductDNS, "InvalidDomainName.NoExist")
	}
	if line != "" && line != "default" {
		return nil, newAPIError(ProductDNS, "InvalidParameter").withMessage("The specified Line is invalid: the emulator knows only the default line.")
	}
	r, e := newZoneRecord(z.name, rr, typ, value, ttl, priority, minTTL(z.edition))
	if e != nil {
		return nil, e
	}
	same := 0
	for _, o := range z.records {
		if o.rr != r.rr {
			continue
		}
		if o.typ == r.typ && sameValue(r.typ, o.value, r.value) {
			return nil, newAPIError(ProductDNS, "DomainRecordDuplicate")
		}
		if (o.typ == "CNAME") != (r.typ == "CNAME") || (o.typ == "CNAME" && r.typ == "CNAME") {
			return nil, newAPIError(ProductDNS, "DomainRecordConflict")
		}
		if o.typ == r.typ {
			same++
		}
	}
	if same >= maxRecordsPerRRSet {
		return nil, newAPIError(ProductDNS, "QuotaExceeded.Record").withMessage(fmt.Sprintf(
			"You Can't add this domain record because the %s %s default record has been out of MAX count (%d).", r.typ, r.rr, maxRecordsPerRRSet))
	}
	now := st.now()
	if viaAPI {
		if e := st.settled(z, now); e != nil {
			return nil, e
		}
		z.lastWrite = now
	}
	st.nextID++
	r.id, r.created = st.nextID, now
	r.visibleAt, r.hidden = now.Add(z.propagation), z.unpublished
	z.records = append(z.records, r)
	st.byID[r.id] = z
	z.serial++
	return r, nil
}

// settled answers LastOperationNotFinished when a write to z arrives within
// the settle time of the previous one. Callers hold st.mu.
func (st *dnsState) settled(z *dnsZone, now time.Time) *apiError {
	if st.settle > 0 && !z.lastWrite.IsZero() && now.Sub(z.lastWrite) < st.settle {
		return newAPIError(ProductDNS, "LastOperationNotFinished")
	}
	return nil
}

// remove deletes a record by ID. The DNS server keeps serving it for the
// zone's propagation delay, forever when unpublished. viaAPI applies the
// write-settle rule.
func (st *dnsState) remove(id string, viaAPI bool) (DNSRecord, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n, err := strconv.ParseInt(id, 10, 64)
	z := st.byID[n]
	if err != nil || z == nil || (viaAPI && z.external) {
		return DNSRecord{}, newAPIError(ProductDNS, "DomainRecordNotBelongToUser")
	}
	now := st.now()
	if viaAPI {
		if e := st.settled(z, now); e != nil {
			return DNSRecord{}, e
		}
		z.lastWrite = now
	}
	// Forget records whose deletion has propagated.
	z.ghosts = slices.DeleteFunc(z.ghosts, func(g *zoneRecord) bool { return !g.goneAt.IsZero() && !now.Before(g.goneAt) })
	i := slices.IndexFunc(z.records, func(r *zoneRecord) bool { return r.id == n })
	r := z.records[i]
	z.records = slices.Delete(z.records, i, i+1)
	delete(st.byID, n)
	z.serial++
	if r.servedAt(now) || (!r.hidden && now.Before(r.visibleAt)) {
		// Still served until the deletion propagates.
		switch {
		case z.unpublished:
			r.goneAt = time.Time{}
			z.ghosts = append(z.ghosts, r)
		case z.propagation > 0:
			r.goneAt = now.Add(z.propagation)
			z.ghosts = append(z.ghosts, r)
		}
	}
	return r.public(z.name, now), nil
}

// public is the record as DNSRecord.
func (r *zoneRecord) public(zone string, now time.Time) DNSRecord {
	return DNSRecord{Zone: zone, RecordID: strconv.FormatInt(r.id, 10), RR: r.rr, Type: r.typ, Value: r.value,
		TTL: r.ttl, Priority: r.priority, Created: r.created, Visible: r.servedAt(now)}
}

// apiRecord is the record in the API's response shape.
func (r *zoneRecord) apiRecord(zone string) map[string]any {
	m := map[string]any{
		"DomainName":      zone,
		"RecordId":        strconv.FormatInt(r.id, 10),
		"RR":              r.rr,
		"Type":            r.typ,
		"Value":           r.value,
		"TTL":             r.ttl,
		"Line":            "default",
		"Status":          "ENABLE",
		"Locked":          false,
		"Weight":          1,
		"CreateTimestamp": r.created.UnixMilli(),
		"UpdateTimestamp": r.created.UnixMilli(),
	}
	if r.typ == "MX" {
		m["Priority"] = r.priority
	}
	return m
}

// versionOf names a zone's edition as DescribeDomains does.
func versionOf(edition string) (code, name string) {
	switch edition {
	case EditionPersonal:
		return "version_personal", "Personal Edition"
	case EditionEnterprise:
		return "version_enterprise_basic", "Enterprise Standard Edition"
	default:
		return "mianfei", "Alibaba Cloud DNS Free Edition"
	}
}

// page reads PageNumber and PageSize.
func page(p url.Values, max int) (number, size int, e *apiError) {
	number, size = 1, 20
	if v := p.Get("PageNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, newAPIError(ProductDNS, "InvalidParameter").withMessage("The specified PageNumber is invalid.")
		}
		number = n
	}
	if v := p.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return 0, 0, newAPIError(ProductDNS, "InvalidParameter").withMessage(
				fmt.Sprintf("The specified PageSize is invalid: 1 to %d.", max))
		}
		size = n
	}
	return number, size, nil
}

// slicePage returns the page of items.
func slicePage[T any](items []T, number, size int) []T {
	from := (number - 1) * size
	if from >= len(items) {
		return []T{}
	}
	return items[from:min(from+size, len(items))]
}

// matchKeyword applies a %kw% or, with exact, an equality filter.
func matchKeyword(have, kw string, exact bool) bool {
	if kw == "" {
		return true
	}
	if exact {
		return strings.EqualFold(have, kw)
	}
	return strings.Contains(strings.ToLower(have), strings.ToLower(kw))
}

// callDomain names the domain an alidns call is about, for the journal
// and the fault decisions: DomainName, else the zone of RecordId, of
// SubDomain or of InputString.
func (st *dnsState) callDomain(p url.Values) string {
	if d := canonicalZone(p.Get("DomainName")); d != "" {
		return d
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if id := p.Get("RecordId"); id != "" {
		n, _ := strconv.ParseInt(id, 10, 64)
		if z := st.byID[n]; z != nil && !z.external {
			return z.name
		}
		return ""
	}
	for _, k := range []string{"SubDomain", "InputString"} {
		if v := p.Get(k); v != "" {
			if z := st.zoneOf(v); z != nil {
				return z.name
			}
			return canonicalZone(v)
		}
	}
	return ""
}

// dnsDescribeDomains answers DescribeDomains: the account's zones, newest
// first, filtered by KeyWord and paged.
func (s *Sim) dnsDescribeDomains(c *call, p url.Values) (any, *apiError) {
	st := s.dns
	number, size, e := page(p, 100)
	if e != nil {
		return nil, e
	}
	kw, exact := p.Get("KeyWord"), strings.EqualFold(p.Get("SearchMode"), "EXACT")
	st.mu.Lock()
	zones := make([]*dnsZone, 0, len(st.zones))
	for _, z := range st.zones {
		if !z.external && matchKeyword(z.name, kw, exact) {
			zones = append(zones, z)
		}
	}
	slices.SortFunc(zones, func(a, b *dnsZone) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var list []map[string]any
	for _, z := range slicePage(zones, number, size) {
		code, name := versionOf(z.edition)
		list = append(list, map[string]any{
			"DomainId":        z.id,
			"DomainName":      z.name,
			"PunyCode":        z.name,
			"AliDomain":       false,
			"VersionCode":     code,
			"VersionName":     name,
			"RecordCount":     len(z.records),
			"DnsServers":      map[string]any{"DnsServer": slices.Clone(st.nameServers)},
			"CreateTime":      z.created.UTC().Format("2006-01-02T15:04Z"),
			"CreateTimestamp": z.created.UnixMilli(),
		})
	}
	st.mu.Unlock()
	if list == nil {
		list = []map[string]any{}
	}
	return map[string]any{"RequestId": c.entry.RequestID, "TotalCount": len(zones), "PageNumber": number, "PageSize": size,
		"Domains": map[string]any{"Domain": list}}, nil
}

// dnsGetMainDomainName answers GetMainDomainName: the registrable domain
// of InputString by the public suffix list, zone of the account or not.
func (s *Sim) dnsGetMainDomainName(c *call, p url.Values) (any, *apiError) {
	in := canonicalZone(p.Get("InputString"))
	if in == "" {
		return nil, newAPIError(ProductDNS, "MissingInputString")
	}
	if len(in) > 128 {
		return nil, newAPIError(ProductDNS, "QuotaExceeded.StringLength")
	}
	if _, ok := dns.IsDomainName(in); !ok {
		return nil, newAPIError(ProductDNS, "InvalidDomainName.Format")
	}
	main, err := publicsuffix.EffectiveTLDPlusOne(in)
	if err != nil {
		return nil, newAPIError(ProductDNS, "InvalidDomainName.Format")
	}
	suffix, _ := publicsuffix.PublicSuffix(in)
	rr := strings.TrimSuffix(strings.TrimSuffix(in, main), ".")
	if rr == "" {
		rr = "@"
	}
	return map[string]any{"RequestId": c.entry.RequestID, "DomainName": main, "RR": rr,
		"DomainLevel": dns.CountLabel(in) - dns.CountLabel(suffix)}, nil
}

// dnsDescribeRecords answers DescribeDomainRecords (a zone's records)
// and DescribeSubDomainRecords (one host's records): newest first,
// filtered and paged.
func (s *Sim) dnsDescribeRecords(c *call, p url.Values) (any, *apiError) {
	st := s.dns
	sub := c.api.action == "DescribeSubDomainRecords"
	max := 500 // DescribeDomainRecords: "最大值 500"
	if sub {
		max = 100 // its current reference: "最大值 100"
	}
	number, size, e := page(p, max)
	if e != nil {
		return nil, e
	}
	zoneName, onlyRR, e := recordsScope(p, sub)
	if e != nil {
		return nil, e
	}
	typ := strings.ToUpper(p.Get("Type"))
	if typ == "" {
		typ = strings.ToUpper(p.Get("TypeKeyWord"))
	}
	exact := strings.EqualFold(p.Get("SearchMode"), "EXACT")
	st.mu.Lock()
	z := st.zones[zoneName]
	if z == nil || z.external {
		st.mu.Unlock()
		return nil, newAPIError(ProductDNS, "InvalidDomainName.NoExist")
	}
	var hits []map[string]any
	for i := len(z.records) - 1; i >= 0; i-- { // newest first
		r := z.records[i]
		switch {
		case onlyRR != "" && r.rr != onlyRR,
			typ != "" && r.typ != typ,
			!matchKeyword(r.rr, p.Get("RRKeyWord"), exact),
			!matchKeyword(r.value, p.Get("ValueKeyWord"), exact),
			p.Get("KeyWord") != "" && !matchKeyword(r.rr, p.Get("KeyWord"), exact) && !matchKeyword(r.value, p.Get("KeyWord"), exact):
			continue
		}
		hits = append(hits, r.apiRecord(z.name))
	}
	st.mu.Unlock()
	list := slicePage(hits, number, size)
	return map[string]any{"RequestId": c.entry.RequestID, "TotalCount": len(hits), "PageNumber": number, "PageSize": size,
		"DomainRecords": map[string]any{"Record": list}}, nil
}

// recordsScope reads which zone a Describe*Records call lists and, for
// DescribeSubDomainRecords (sub), the one host record ("@" for the apex)
// it is limited to.
func recordsScope(p url.Values, sub bool) (zoneName, onlyRR string, e *apiError) {
	if !sub {
		zoneName = canonicalZone(p.Get("DomainName"))
		if zoneName == "" {
			return "", "", newAPIError(ProductDNS, "MissingDomainName")
		}
		return zoneName, "", nil
	}
	name := canonicalZone(p.Get("SubDomain"))
	if name == "" {
		return "", "", newAPIError(ProductDNS, "MissingSubDomain")
	}
	zoneName = canonicalZone(p.Get("DomainName"))
	if zoneName == "" {
		main, err := publicsuffix.EffectiveTLDPlusOne(name)
		if err != nil {
			return "", "", newAPIError(ProductDNS, "InvalidDomainName.Format")
		}
		zoneName = main
	}
	switch {
	case name == zoneName:
		return zoneName, "@", nil
	case strings.HasSuffix(name, "."+zoneName):
		return zoneName, strings.TrimSuffix(name, "."+zoneName), nil
	}
	return "", "", newAPIError(ProductDNS, "InvalidParameter").withMessage("The specified SubDomain is not under DomainName.")
}

// dnsDescribeRecordInfo answers DescribeDomainRecordInfo: one record by
// RecordId.
func (s *Sim) dnsDescribeRecordInfo(c *call, p url.Values) (any, *apiError) {
	st := s.dns
	id := p.Get("RecordId")
	if id == "" {
		return nil, newAPIError(ProductDNS, "MissingRecordId")
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	st.mu.Lock()
	defer st.mu.Unlock()
	z := st.byID[n]
	if z == nil || z.external {
		return nil, newAPIError(ProductDNS, "DomainRecordNotBelongToUser")
	}
	i := slices.IndexFunc(z.records, func(r *zoneRecord) bool { return r.id == n })
	m := z.records[i].apiRecord(z.name)
	m["RequestId"], m["DomainId"] = c.entry.RequestID, z.id
	return m, nil
}

// dnsAddRecord answers AddDomainRecord, journaling the record's RR, type,
// value and assigned RecordId.
func (s *Sim) dnsAddRecord(c *call, p url.Values) (any, *apiError) {
	zone := canonicalZone(p.Get("DomainName"))
	if zone == "" {
		return nil, newAPIError(ProductDNS, "MissingDomainName")
	}
	c.entry.RR, c.entry.RecordType, c.entry.Value = strings.ToLower(p.Get("RR")), strings.ToUpper(p.Get("Type")), p.Get("Value")
	ttl, priority := 0, 0
	for _, f := range []struct {
		name string
		dst  *int
	}{{"TTL", &ttl}, {"Priority", &priority}} {
		if v := p.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, newAPIError(ProductDNS, "InvalidParameter").withMessage("The specified " + f.name + " is not a number.")
			}
			*f.dst = n
		}
	}
	r, e := s.dns.add(zone, p.Get("RR"), p.Get("Type"), p.Get("Value"), ttl, priority, p.Get("Line"), true)
	if e != nil {
		return nil, e
	}
	c.entry.RecordID = strconv.FormatInt(r.id, 10)
	return map[string]any{"RequestId": c.entry.RequestID, "RecordId": c.entry.RecordID}, nil
}

// dnsDeleteRecord answers DeleteDomainRecord, journaling the deleted
// record's RecordId, RR, type and value.
func (s *Sim) dnsDeleteRecord(c *call, p url.Values) (any, *apiError) {
	id := p.Get("RecordId")
	if id == "" {
		return nil, newAPIError(ProductDNS, "MissingRecordId")
	}
	c.entry.RecordID = id
	r, e := s.dns.remove(id, true)
	if e != nil {
		return nil, e
	}
	c.entry.RR, c.entry.RecordType, c.entry.Value = r.RR, r.Type, r.Value
	return map[string]any{"RequestId": c.entry.RequestID, "RecordId": id}, nil
}

// DNSRecords returns the records of a zone as the API holds them, in the
// order they were added; nil when the zone does not exist.
func (s *Sim) DNSRecords(zone string) []DNSRecord {
	st := s.dns
	st.mu.Lock()
	defer st.mu.Unlock()
	z := st.zones[canonicalZone(zone)]
	if z == nil {
		return nil
	}
	now := st.now()
	out := make([]DNSRecord, 0, len(z.records))
	for _, r := range z.records {
		out = append(out, r.public(z.name, now))
	}
	return out
}

// AddDNSRecord adds a record to a zone directly, without an API call and
// without a journal entry, with the same checks as AddDomainRecord (TTL 0
// means 600, at least the edition's minimum). Tests use it as an ACME
// solver that writes through the emulator's state.
func (s *Sim) AddDNSRecord(zone, rr, typ, value string, ttl int) (DNSRecord, error) {
	r, e := s.dns.add(zone, rr, typ, value, ttl, 0, "", false)
	if e != nil {
		return DNSRecord{}, fmt.Errorf("cloudsim: %s: %s", e.code, e.message)
	}
	s.dns.mu.Lock()
	defer s.dns.mu.Unlock()
	return r.public(canonicalZone(zone), s.dns.now()), nil
}

// DeleteDNSRecord deletes a record by ID directly, without an API call.
func (s *Sim) DeleteDNSRecord(recordID string) error {
	if _, e := s.dns.remove(recordID, false); e != nil {
		return fmt.Errorf("cloudsim: %s: %s", e.code, e.message)
	}
	return nil
}
