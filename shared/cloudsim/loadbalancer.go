package cloudsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The load balancers' state, shared by ALB and NLB (listeners by id, whose
// certificates are Certificate Management Service certificates named
// "<CertId>-<region>", alb.go and nlb.go) and CLB (load balancers with
// HTTPS listeners and domain extensions, whose certificates are CLB's own
// server certificates, per region, clb.go).
//
// ALB and NLB writes are asynchronous, as their references say: a write
// answers a JobId at once, and the listener is Configuring for
// LoadBalancerSettings.ConfigureDelay, during which the change is not yet
// visible (GetListenerAttribute shows the previous default certificate;
// an added additional certificate is Associating, a removed one
// Dissociating) and every other write to it is refused as the listener
// busy; then it is Running with the change applied.

// LoadBalancerSettings configures the account's load balancers.
type LoadBalancerSettings struct {
	// ConfigureDelay is how long an ALB or NLB listener stays
	// Configuring after a write; 0 means DefaultConfigureDelay.
	ConfigureDelay time.Duration `yaml:"configureDelay"`
	// MaxAdditionalCertificates caps an ALB or NLB listener's additional
	// certificates; 0 means DefaultMaxAdditionalCertificates.
	MaxAdditionalCertificates int `yaml:"maxAdditionalCertificates"`
	// ALB and NLB are the listeners of the two products.
	ALB []LBListener `yaml:"alb"`
	NLB []LBListener `yaml:"nlb"`
	// CLB are the classic load balancers.
	CLB []ClassicLB `yaml:"clb"`
	// ServerCertificates are CLB server certificates in the stores before
	// any call.
	ServerCertificates []SeedServerCert `yaml:"serverCertificates"`
}

// DefaultConfigureDelay is how long a listener is Configuring after a
// write unless LoadBalancerSettings says otherwise. The references give
// no duration.
const DefaultConfigureDelay = 300 * time.Millisecond

// DefaultMaxAdditionalCertificates is a listener's cap on additional
// certificates: ALB's documented default of 25 per Standard instance.
const DefaultMaxAdditionalCertificates = 25

// LBListener is an ALB or NLB listener.
type LBListener struct {
	ID           string `yaml:"id"`
	Region       string `yaml:"region"`
	LoadBalancer string `yaml:"loadBalancer"`
	// Protocol is HTTPS (ALB's default), QUIC, HTTP; TCPSSL (NLB's
	// default), TCP, UDP.
	Protocol string `yaml:"protocol"`
	Port     int    `yaml:"port"`
	// Default and Additional name certificates of cas.certificates (by
	// name, in the CAS region of their seed) the listener carries.
	Default    string   `yaml:"default"`
	Additional []string `yaml:"additional"`
	// ConfiguringFor keeps the listener Configuring (busy) that long
	// after the emulator starts, as if another caller had just written it.
	ConfiguringFor time.Duration `yaml:"configuringFor"`
}

// ClassicLB is a CLB instance.
type ClassicLB struct {
	ID        string            `yaml:"id"`
	Region    string            `yaml:"region"`
	Listeners []ClassicListener `yaml:"listeners"`
}

// ClassicListener is a CLB listener.
type ClassicListener struct {
	Port int `yaml:"port"`
	// Protocol is https (the default), http, tcp or udp.
	Protocol string `yaml:"protocol"`
	// ServerCertificate names a server certificate of
	// serverCertificates (in the load balancer's region) it carries.
	ServerCertificate string `yaml:"serverCertificate"`
	// Bandwidth stands for the listener's other attributes, which a
	// certificate's Set must leave as they are.
	Bandwidth int `yaml:"bandwidth"`
	// DomainExtensions are its SNI domains.
	DomainExtensions []ClassicExtension `yaml:"domainExtensions"`
}

// ClassicExtension is a CLB listener's domain extension.
type ClassicExtension struct {
	Domain            string `yaml:"domain"`
	ServerCertificate string `yaml:"serverCertificate"`
}

// SeedServerCert is a CLB server certificate before any call.
type SeedServerCert struct {
	Region   string `yaml:"region"`
	Name     string `yaml:"name"`
	Cert     string `yaml:"cert"`
	CertFile string `yaml:"certFile"`
}

// lbCert is one certificate on an ALB or NLB listener.
type lbCert struct {
	id string
	// until is when Associating ends (add) or the certificate is gone
	// (remove: removing is set).
	until    time.Time
	removing bool
}

// lbListener is an ALB or NLB listener's state.
type lbListener struct {
	product, id, region, lbID, protocol string
	port                                int
	def                                 string
	pendingDef                          string
	busyUntil                           time.Time
	certs                               []*lbCert
}

// settle applies what has finished at now.
func (l *lbListener) settle(now time.Time) {
	if now.Before(l.busyUntil) {
		return
	}
	if l.pendingDef != "" {
		l.def, l.pendingDef = l.pendingDef, ""
	}
	l.certs = slices.DeleteFunc(l.certs, func(c *lbCert) bool { return c.removing && !now.Before(c.until) })
}

func (l *lbListener) status(now time.Time) string {
	if now.Before(l.busyUntil) {
		return "Configuring"
	}
	return "Running"
}

// certStatus is an additional certificate's Status.
func (c *lbCert) status(now time.Time) string {
	switch {
	case c.removing:
		return "Dissociating"
	case now.Before(c.until):
		return "Associating"
	}
	return "Associated"
}

// clbCert is a CLB server certificate.
type clbCert struct {
	id, name, region, certPEM string
	hasKey                    bool
	aliCloudID, aliCloudName  string
	aliCloudRegion            string
	created                   time.Time
}

// clbListener is a CLB listener's state.
type clbListener struct {
	port       int
	protocol   string
	cert       string
	bandwidth  int
	exts       []*clbExtension
	lastParams []string
}

type clbExtension struct{ id, domain, cert string }

// clbLB is a CLB instance.
type clbLB struct {
	id, region string
	listeners  []*clbListener
}

// lbState holds the load balancers.
type lbState struct {
	mu        sync.Mutex
	delay     time.Duration
	max       int
	listeners map[string]*lbListener // product/id
	clbs      map[string]*clbLB
	clbOrder  []string
	certs     map[string]*clbCert // id
	jobs      int
}

// newLBState builds the configured load balancers; cas looks a seeded CAS
// certificate up by name.
func newLBState(cfg LoadBalancerSettings, now time.Time, cas func(name string) (string, bool)) (*lbState, error) {
	st := &lbState{delay: cfg.ConfigureDelay, max: cfg.MaxAdditionalCertificates,
		listeners: map[string]*lbListener{}, clbs: map[string]*clbLB{}, certs: map[string]*clbCert{}}
	if st.delay <= 0 {
		st.delay = DefaultConfigureDelay
	}
	if st.max <= 0 {
		st.max = DefaultMaxAdditionalCertificates
	}
	for _, pl := range []struct {
		product, proto string
		list           []LBListener
	}{{ProductALB, "HTTPS", cfg.ALB}, {ProductNLB, "TCPSSL", cfg.NLB}} {
		for i, l := range pl.list {
			if l.ID == "" || l.Region == "" {
				return nil, fmt.Errorf("loadBalancers.%s[%d]: id and region are required", pl.product, i)
			}
			ls := &lbListener{product: pl.product, id: l.ID, region: l.Region, lbID: l.LoadBalancer, protocol: l.Protocol, port: l.Port}
			if ls.protocol == "" {
				ls.protocol = pl.proto
			}
			if ls.port == 0 {
				ls.port = 443
			}
			if l.ConfiguringFor > 0 {
				ls.busyUntil = now.Add(l.ConfiguringFor)
			}
			if l.Default != "" {
				id, ok := cas(l.Default)
				if !ok {
					return nil, fmt.Errorf("loadBalancers.%s[%d]: default %q is not a certificate of cas.certificates", pl.product, i, l.Default)
				}
				ls.def = id
			}
			for _, name := range l.Additional {
				id, ok := cas(name)
				if !ok {
					return nil, fmt.Errorf("loadBalancers.%s[%d]: additional %q is not a certificate of cas.certificates", pl.product, i, name)
				}
				ls.certs = append(ls.certs, &lbCert{id: id})
			}
			key := pl.product + "/" + l.ID
			if st.listeners[key] != nil {
				return nil, fmt.Errorf("loadBalancers.%s[%d]: duplicate listener %s", pl.product, i, l.ID)
			}
			st.listeners[key] = ls
		}
	}
	byName := map[string]string{}
	for i, sc := range cfg.ServerCertificates {
		if sc.Region == "" || sc.Name == "" {
			return nil, fmt.Errorf("loadBalancers.serverCertificates[%d]: region and name are required", i)
		}
		if _, ok := firstCertificate(sc.Cert); !ok {
			return nil, fmt.Errorf("loadBalancers.serverCertificates[%d]: cert holds no parsable certificate", i)
		}
		c := &clbCert{id: newServerCertID(), name: sc.Name, region: sc.Region, certPEM: sc.Cert, created: now}
		st.certs[c.id] = c
		byName[sc.Region+"/"+sc.Name] = c.id
	}
	for i, b := range cfg.CLB {
		if b.ID == "" || b.Region == "" || st.clbs[b.ID] != nil {
			return nil, fmt.Errorf("loadBalancers.clb[%d]: id and region are required, the id once", i)
		}
		lb := &clbLB{id: b.ID, region: b.Region}
		for _, l := range b.Listeners {
			cl := &clbListener{port: l.Port, protocol: strings.ToLower(l.Protocol), bandwidth: l.Bandwidth}
			if cl.protocol == "" {
				cl.protocol = "https"
			}
			ref := func(name string) (string, error) {
				if name == "" {
					return "", nil
				}
				id, ok := byName[b.Region+"/"+name]
				if !ok {
					return "", fmt.Errorf("loadBalancers.clb[%d]: server certificate %q is not in serverCertificates of %s", i, name, b.Region)
				}
				return id, nil
			}
			var err error
			if cl.cert, err = ref(l.ServerCertificate); err != nil {
				return nil, err
			}
			for j, e := range l.DomainExtensions {
				id, err := ref(e.ServerCertificate)
				if err != nil {
					return nil, err
				}
				cl.exts = append(cl.exts, &clbExtension{id: fmt.Sprintf("de-%s-%d-%d", strings.TrimPrefix(b.ID, "lb-"), l.Port, j+1),
					domain: strings.ToLower(e.Domain), cert: id})
			}
			lb.listeners = append(lb.listeners, cl)
		}
		st.clbs[b.ID] = lb
		st.clbOrder = append(st.clbOrder, b.ID)
	}
	return st, nil
}

// newServerCertID returns an id shaped like CLB's:
// 1231579085529123_166f8204689_1714763408_70998****.
func newServerCertID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("1231579085529123_%s_%d_%d", hex.EncodeToString(b[:]), time.Now().Unix(), time.Now().UnixNano()%1000000)
}

// jobID returns a new asynchronous job's id.
func (st *lbState) jobID() string {
	st.jobs++
	return fmt.Sprintf("72dcd26b-f12d-4c27-b3af-%012d", st.jobs)
}

// indexed reads the parameters name.1, name.2, ... (or with format, e.g.
// "Certificates.%d.CertificateId"), up to 100.
func indexed(p url.Values, format string) []string {
	var out []string
	for i := 1; i <= 100; i++ {
		v := p.Get(fmt.Sprintf(format, i))
		if v == "" {
			break
		}
		out = append(out, v)
	}
	return out
}

// LBListenerState is what an ALB or NLB listener carries, for tests.
type LBListenerState struct {
	Status  string
	Default string
	// Additional are the additional certificates' ids and statuses.
	Additional map[string]string
}

// LBListener returns what the listener of product (ProductALB or
// ProductNLB) carries now.
func (s *Sim) LBListener(product, id string) (LBListenerState, bool) {
	st := s.lbs
	st.mu.Lock()
	defer st.mu.Unlock()
	l := st.listeners[product+"/"+id]
	if l == nil {
		return LBListenerState{}, false
	}
	now := time.Now()
	l.settle(now)
	out := LBListenerState{Status: l.status(now), Default: l.def, Additional: map[string]string{}}
	for _, c := range l.certs {
		out.Additional[c.id] = c.status(now)
	}
	return out, true
}

// SetListenerConfiguring makes a listener Configuring for d, as another
// caller's write would.
func (s *Sim) SetListenerConfiguring(product, id string, d time.Duration) error {
	st := s.lbs
	st.mu.Lock()
	defer st.mu.Unlock()
	l := st.listeners[product+"/"+id]
	if l == nil {
		return fmt.Errorf("cloudsim: no %s listener %s", product, id)
	}
	l.busyUntil = time.Now().Add(d)
	return nil
}

// CLBListenerState is what a CLB listener carries, for tests.
type CLBListenerState struct {
	ServerCertificateID string
	Bandwidth           int
	// Extensions are the domain extensions' certificates by domain.
	Extensions map[string]string
	// LastSetParams are the parameter names of the last
	// SetLoadBalancerHTTPSListenerAttribute, sorted.
	LastSetParams []string
}

// CLBListener returns what a CLB listener carries now.
func (s *Sim) CLBListener(lbID string, port int) (CLBListenerState, bool) {
	st := s.lbs
	st.mu.Lock()
	defer st.mu.Unlock()
	b := st.clbs[lbID]
	if b == nil {
		return CLBListenerState{}, false
	}
	for _, l := range b.listeners {
		if l.port == port {
			out := CLBListenerState{ServerCertificateID: l.cert, Bandwidth: l.bandwidth, Extensions: map[string]string{},
				LastSetParams: slices.Clone(l.lastParams)}
			for _, e := range l.exts {
				out.Extensions[e.domain] = e.cert
			}
			return out, true
		}
	}
	return CLBListenerState{}, false
}

// ServerCertificate is a CLB server certificate, for tests (never its
// key).
type ServerCertificate struct {
	ID, Name, Region string
	Fingerprint      string
	// HasKey: it was uploaded with its private key; AliCloudCertificateID
	// is its CAS certificate when it was uploaded by reference.
	HasKey                bool
	AliCloudCertificateID string
}

// ServerCertificates lists a region's CLB server certificates, by id.
func (s *Sim) ServerCertificates(region string) []ServerCertificate {
	st := s.lbs
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []ServerCertificate
	for _, c := range st.certs {
		if c.region != region {
			continue
		}
		leaf, _ := firstCertificate(c.certPEM)
		sc := ServerCertificate{ID: c.id, Name: c.name, Region: c.region, HasKey: c.hasKey, AliCloudCertificateID: c.aliCloudID}
		if leaf != nil {
			sc.Fingerprint = sha1Colon(leaf.Raw)
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b ServerCertificate) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// atoi reads a decimal parameter; ok is false when it is not one.
func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil
}
