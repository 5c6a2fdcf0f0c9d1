package cloudsim

import (
	"crypto/sha1"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/config"
)

// ProductCLB is Classic Load Balancer (product slb, API version
// 2014-05-15, RPC style), served on the OpenAPI listener
// (CERTDROP_CLB_ENDPOINT). Its load balancers, HTTPS listeners, domain
// extensions and server certificates are configured under
// loadBalancers.clb and loadBalancers.serverCertificates. Server
// certificates are per region; every operation takes RegionId, and a load
// balancer of another region is not found, as the region's endpoint
// would answer. Writes are synchronous.
//
//	UploadServerCertificate  RegionId, ServerCertificateName, ServerCertificate
//	                         and PrivateKey, or AliCloudCertificateId,
//	                         AliCloudCertificateName, AliCloudCertificateRegionId
//	                         (a CAS certificate, no key)
//	  -> ServerCertificateId, Fingerprint (SHA-1, colon-separated lower-case
//	     hex), ServerCertificateName, RegionId, AliCloudCertificateId, ...
//	DescribeServerCertificates  RegionId, ServerCertificateId (optional)
//	  -> ServerCertificates.ServerCertificate[{ServerCertificateId,
//	     ServerCertificateName, Fingerprint, ExpireTime, ExpireTimeStamp,
//	     CreateTimeStamp, CommonName, SubjectAlternativeNames.SubjectAlternativeName,
//	     IsAliCloudCertificate, AliCloudCertificateId, RegionId}].
//	DeleteServerCertificate  RegionId, ServerCertificateId.
//	DescribeLoadBalancerHTTPSListenerAttribute  RegionId, LoadBalancerId, ListenerPort
//	  -> ServerCertificateId, Bandwidth, Status, ListenerPort.
//	SetLoadBalancerHTTPSListenerAttribute  RegionId, LoadBalancerId, ListenerPort,
//	                         ServerCertificateId (and any attribute the test
//	                         account has: Bandwidth); the parameter names sent
//	                         are kept (Sim.CLBListener) for tests.
//	DescribeDomainExtensions  RegionId, LoadBalancerId, ListenerPort
//	  -> DomainExtensions.DomainExtension[{DomainExtensionId, Domain,
//	     ServerCertificateId}].
//	SetDomainExtensionAttribute  RegionId, DomainExtensionId, ServerCertificateId.
//	DescribeLoadBalancers    RegionId, PageNumber, PageSize (up to 100)
//	  -> LoadBalancers.LoadBalancer[{LoadBalancerId, RegionId}], TotalCount.
//	DescribeLoadBalancerAttribute  RegionId, LoadBalancerId
//	  -> ListenerPortsAndProtocol.ListenerPortAndProtocol[{ListenerPort,
//	     ListenerProtocol}].
//
// Errors: InvalidLoadBalancerId.NotFound, ListenerNotFound,
// ListenerProtocolNotSupport (a listener that is not HTTPS),
// ServerCertificateId.NotFound (404, as certimate issue 841 quotes it),
// DomainExtensionId.NotFound, AliCloudCertificate.NotFound,
// ServerCertificate.InUse (a delete of a certificate a listener or domain
// extension uses), InvalidServerCertificate, InvalidPrivateKey,
// ServerCertificate.KeyNotMatch, MissingParameter. Only
// ServerCertificateId.NotFound is quoted from a vendor answer; the other
// codes are the emulator's choice.
//
// Quotas: 10/s for the reads, 5/s for the writes (the emulator's choice:
// no page read documents them).
const ProductCLB = "slb"

// clbProduct registers CLB.
func clbProduct() productSpec {
	v := "2014-05-15"
	w, r := 5.0, 10.0
	return productSpec{
		name: ProductCLB, code: "Slb", host: "slb.aliyuncs.com",
		env:    []string{config.CLBEndpoint},
		errors: clbErrors(),
		actions: []apiSpec{
			{action: "UploadServerCertificate", version: v, quota: w, journal: clbJournal, handle: (*Sim).clbUpload},
			{action: "DescribeServerCertificates", version: v, quota: r, journal: clbJournal, handle: (*Sim).clbDescribeCerts},
			{action: "DeleteServerCertificate", version: v, quota: w, journal: clbJournal, handle: (*Sim).clbDeleteCert},
			{action: "DescribeLoadBalancerHTTPSListenerAttribute", version: v, quota: r, journal: clbJournal, handle: (*Sim).clbDescribeListener},
			{action: "SetLoadBalancerHTTPSListenerAttribute", version: v, quota: w, journal: clbJournal, handle: (*Sim).clbSetListener},
			{action: "DescribeDomainExtensions", version: v, quota: r, journal: clbJournal, handle: (*Sim).clbDescribeExtensions},
			{action: "SetDomainExtensionAttribute", version: v, quota: w, journal: clbJournal, handle: (*Sim).clbSetExtension},
			{action: "DescribeLoadBalancers", version: v, quota: r, journal: clbJournal, handle: (*Sim).clbDescribeLBs},
			{action: "DescribeLoadBalancerAttribute", version: v, quota: r, journal: clbJournal, handle: (*Sim).clbDescribeLB},
		},
	}
}

func clbErrors() map[string]knownError {
	return map[string]knownError{
		"InvalidLoadBalancerId.NotFound": {404, "The specified LoadBalancerId does not exist."},
		"ListenerNotFound":               {404, "The specified listener does not exist."},
		"ListenerProtocolNotSupport":     {400, "The specified listener is not an HTTPS listener."},
		"ServerCertificateId.NotFound":   {404, "The specified ServerCertificateId does not exist."},
		"DomainExtensionId.NotFound":     {404, "The specified DomainExtensionId does not exist."},
		"AliCloudCertificate.NotFound":   {404, "The specified AliCloudCertificateId does not exist."},
		"ServerCertificate.InUse":        {400, "The specified server certificate is in use."},
		"InvalidServerCertificate":       {400, "The specified ServerCertificate is invalid."},
		"InvalidPrivateKey":              {400, "The specified PrivateKey is invalid."},
		"ServerCertificate.KeyNotMatch":  {400, "The PrivateKey does not match the ServerCertificate."},
		"MissingParameter":               {400, "A required parameter is missing."},
	}
}

// clbJournal records what the call is about: the load balancer and port,
// the domain extension, or the server certificate.
func clbJournal(_ *Sim, c *call, p url.Values) {
	c.entry.Region = p.Get("RegionId")
	switch {
	case p.Get("LoadBalancerId") != "" && p.Get("ListenerPort") != "":
		c.entry.Domain = p.Get("LoadBalancerId") + ":" + p.Get("ListenerPort")
	case p.Get("LoadBalancerId") != "":
		c.entry.Domain = p.Get("LoadBalancerId")
	case p.Get("DomainExtensionId") != "":
		c.entry.Domain = p.Get("DomainExtensionId")
	case p.Get("ServerCertificateName") != "":
		c.entry.Domain = p.Get("ServerCertificateName")
	default:
		c.entry.Domain = p.Get("ServerCertificateId")
	}
	c.entry.CertID = p.Get("ServerCertificateId")
}

func clbErr(code string) *apiError { return newAPIError(ProductCLB, code) }

// sha1Colon is CLB's fingerprint form.
func sha1Colon(der []byte) string {
	h := sha1.Sum(der)
	s := hex.EncodeToString(h[:])
	var parts []string
	for i := 0; i < len(s); i += 2 {
		parts = append(parts, s[i:i+2])
	}
	return strings.Join(parts, ":")
}

// clbLBOf finds the call's load balancer in its region. Callers hold the
// state's lock.
func (s *Sim) clbLBOf(p url.Values) (*clbLB, *apiError) {
	id := p.Get("LoadBalancerId")
	if id == "" || p.Get("RegionId") == "" {
		return nil, clbErr("MissingParameter").withMessage("RegionId and LoadBalancerId are mandatory for this action.")
	}
	b := s.lbs.clbs[id]
	if b == nil || b.region != p.Get("RegionId") {
		return nil, clbErr("InvalidLoadBalancerId.NotFound")
	}
	return b, nil
}

// clbListenerOf finds the call's HTTPS listener.
func (s *Sim) clbListenerOf(p url.Values) (*clbLB, *clbListener, *apiError) {
	b, e := s.clbLBOf(p)
	if e != nil {
		return nil, nil, e
	}
	port, ok := atoi(p.Get("ListenerPort"))
	if !ok {
		return nil, nil, clbErr("MissingParameter").withMessage("ListenerPort is mandatory for this action.")
	}
	for _, l := range b.listeners {
		if l.port == port {
			if l.protocol != "https" {
				return nil, nil, clbErr("ListenerProtocolNotSupport")
			}
			return b, l, nil
		}
	}
	return nil, nil, clbErr("ListenerNotFound")
}

// clbCertIn checks that id is a server certificate of region.
func (s *Sim) clbCertIn(region, id string) *apiError {
	c := s.lbs.certs[id]
	if id == "" || c == nil || c.region != region {
		return clbErr("ServerCertificateId.NotFound")
	}
	return nil
}

func (s *Sim) clbUpload(c *call, p url.Values) (any, *apiError) {
	region, name := p.Get("RegionId"), p.Get("ServerCertificateName")
	if region == "" {
		return nil, clbErr("MissingParameter").withMessage("RegionId is mandatory for this action.")
	}
	sc := &clbCert{id: newServerCertID(), name: name, region: region, created: time.Now().UTC()}
	if ali := p.Get("AliCloudCertificateId"); ali != "" {
		casRegion := p.Get("AliCloudCertificateRegionId")
		if casRegion == "" {
			casRegion = CASRegionHangzhou
		}
		n, err := strconv.ParseInt(ali, 10, 64)
		cc, ok := s.lookupCAS(casRegion, n, "")
		if err != nil || !ok {
			return nil, clbErr("AliCloudCertificate.NotFound")
		}
		sc.certPEM, sc.aliCloudID, sc.aliCloudName, sc.aliCloudRegion = cc.certPEM, ali, p.Get("AliCloudCertificateName"), casRegion
		if sc.name == "" {
			sc.name = sc.aliCloudName
		}
	} else {
		pub, key := p.Get("ServerCertificate"), p.Get("PrivateKey")
		if _, e := s.checkCASPair(pub, key, s.certNow()); e != nil {
			switch e.code {
			case "Key.Malformed":
				return nil, clbErr("InvalidPrivateKey")
			case "Certificate.MissMatch":
				return nil, clbErr("ServerCertificate.KeyNotMatch")
			default:
				return nil, clbErr("InvalidServerCertificate")
			}
		}
		sc.certPEM, sc.hasKey = pub, true
	}
	leaf, _ := firstCertificate(sc.certPEM)
	s.lbs.mu.Lock()
	s.lbs.certs[sc.id] = sc
	s.lbs.mu.Unlock()
	c.entry.CertID = sc.id
	out := map[string]any{"RequestId": c.entry.RequestID, "ServerCertificateId": sc.id, "ServerCertificateName": sc.name,
		"RegionId": region, "AliCloudCertificateId": sc.aliCloudID, "AliCloudCertificateName": sc.aliCloudName,
		"IsAliCloudCertificate": boolInt(sc.aliCloudID != ""), "CreateTimeStamp": sc.created.UnixMilli()}
	if leaf != nil {
		out["Fingerprint"] = sha1Colon(leaf.Raw)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Sim) clbDescribeCerts(c *call, p url.Values) (any, *apiError) {
	region := p.Get("RegionId")
	if region == "" {
		return nil, clbErr("MissingParameter").withMessage("RegionId is mandatory for this action.")
	}
	s.lbs.mu.Lock()
	var certs []*clbCert
	for _, sc := range s.lbs.certs {
		if sc.region == region && (p.Get("ServerCertificateId") == "" || sc.id == p.Get("ServerCertificateId")) {
			certs = append(certs, sc)
		}
	}
	s.lbs.mu.Unlock()
	slices.SortFunc(certs, func(a, b *clbCert) int { return strings.Compare(a.id, b.id) })
	items := []map[string]any{}
	for _, sc := range certs {
		item := map[string]any{"ServerCertificateId": sc.id, "ServerCertificateName": sc.name, "RegionId": sc.region,
			"IsAliCloudCertificate": boolInt(sc.aliCloudID != ""), "AliCloudCertificateId": sc.aliCloudID,
			"AliCloudCertificateName": sc.aliCloudName, "CreateTimeStamp": sc.created.UnixMilli(),
			"CreateTime": sc.created.Format("2006-01-02T15:04Z")}
		if leaf, ok := firstCertificate(sc.certPEM); ok {
			item["Fingerprint"] = sha1Colon(leaf.Raw)
			item["ExpireTimeStamp"] = leaf.NotAfter.UnixMilli()
			item["ExpireTime"] = leaf.NotAfter.UTC().Format("2006-01-02T15:04Z")
			item["CommonName"] = leaf.Subject.CommonName
			item["SubjectAlternativeNames"] = map[string]any{"SubjectAlternativeName": leaf.DNSNames}
		}
		items = append(items, item)
	}
	return map[string]any{"RequestId": c.entry.RequestID, "ServerCertificates": map[string]any{"ServerCertificate": items}}, nil
}

func (s *Sim) clbDeleteCert(c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	region, id := p.Get("RegionId"), p.Get("ServerCertificateId")
	if e := s.clbCertIn(region, id); e != nil {
		return nil, e
	}
	for _, b := range s.lbs.clbs {
		for _, l := range b.listeners {
			if l.cert == id || slices.ContainsFunc(l.exts, func(e *clbExtension) bool { return e.cert == id }) {
				return nil, clbErr("ServerCertificate.InUse")
			}
		}
	}
	delete(s.lbs.certs, id)
	return map[string]any{"RequestId": c.entry.RequestID}, nil
}

func (s *Sim) clbDescribeListener(c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	_, l, e := s.clbListenerOf(p)
	if e != nil {
		return nil, e
	}
	return map[string]any{"RequestId": c.entry.RequestID, "ListenerPort": l.port, "Status": "running",
		"ServerCertificateId": l.cert, "Bandwidth": l.bandwidth}, nil
}

func (s *Sim) clbSetListener(c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	b, l, e := s.clbListenerOf(p)
	if e != nil {
		return nil, e
	}
	if id := p.Get("ServerCertificateId"); id != "" {
		if e := s.clbCertIn(b.region, id); e != nil {
			return nil, e
		}
		l.cert = id
	}
	if bw := p.Get("Bandwidth"); bw != "" {
		if n, ok := atoi(bw); ok {
			l.bandwidth = n
		}
	}
	l.lastParams = nil
	for k := range p {
		switch k {
		case "Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "Signature":
			continue
		}
		l.lastParams = append(l.lastParams, k)
	}
	slices.Sort(l.lastParams)
	return map[string]any{"RequestId": c.entry.RequestID}, nil
}

func (s *Sim) clbDescribeExtensions(c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	_, l, e := s.clbListenerOf(p)
	if e != nil {
		return nil, e
	}
	items := []map[string]any{}
	for _, x := range l.exts {
		if id := p.Get("DomainExtensionId"); id != "" && id != x.id {
			continue
		}
		items = append(items, map[string]any{"DomainExtensionId": x.id, "Domain": x.domain, "ServerCertificateId": x.cert})
	}
	return map[string]any{"RequestId": c.entry.RequestID, "DomainExtensions": map[string]any{"DomainExtension": items}}, nil
}

func (s *Sim) clbSetExtension(c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	region, id := p.Get("RegionId"), p.Get("DomainExtensionId")
	for _, b := range s.lbs.clbs {
		if b.region != region {
			continue
		}
		for _, l := range b.listeners {
			for _, x := range l.exts {
				if x.id != id {
					continue
				}
				if e := s.clbCertIn(region, p.Get("ServerCertificateId")); e != nil {
					return nil, e
				}
				x.cert = p.Get("ServerCertificateId")
				return map[string]any{"RequestId": c.entry.RequestID}, nil
			}
		}
	}
	return nil, clbErr("DomainExtensionId.NotFound")
}

func (s *Sim) clbDescribeLBs(c *call, p url.Values) (any, *apiError) {
	region := p.Get("RegionId")
	if region == "" {
		return nil, clbErr("MissingParameter").withMessage("RegionId is mandatory for this action.")
	}
	pageNo, size := 1, 10
	if n, ok := atoi(p.Get("PageNumber")); ok && n > 0 {
		pageNo = n
	}
	if n, ok := atoi(p.Get("PageSize")); ok && n > 0 && n <= 100 {
		size = n
	}
	s.lbs.mu.Lock()
	var all []map[string]any
	for _, id := range s.lbs.clbOrder {
		if b := s.lbs.clbs[id]; b.region == region {
			all = append(all, map[string]any{"LoadBalancerId": b.id, "RegionId": b.region})
		}
	}
	s.lbs.mu.Unlock()
	page := slicePage(all, pageNo, size)
	if page == nil {
		page = []map[string]any{}
	}
	return map[string]any{"RequestId": c.entry.RequestID, "TotalCount": len(all), "PageNumber": pageNo, "PageSize": size,
		"LoadBalancers": map[string]any{"LoadBalancer": page}}, nil
}

func (s *Sim) clbDescribeLB(c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	b, e := s.clbLBOf(p)
	if e != nil {
		return nil, e
	}
	items := []map[string]any{}
	for _, l := range b.listeners {
		items = append(items, map[string]any{"ListenerPort": l.port, "ListenerProtocol": l.protocol})
	}
	return map[string]any{"RequestId": c.entry.RequestID, "LoadBalancerId": b.id,
		"ListenerPortsAndProtocol": map[string]any{"ListenerPortAndProtocol": items}}, nil
}
