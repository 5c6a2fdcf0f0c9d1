package cloudsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/config"
)

// Sim is the local cloud emulator: an OpenAPI listener that answers every
// registered product's operations (openapi_products.go: the Product*
// constants) as the real SDK expects them (signatures, quotas, error
// shapes), a second one for Certificate Management Service in
// ap-southeast-1, an OSS listener, and on demand an authoritative DNS
// server and an ACME CA. All bind loopback only. Build it with New, then
// Start it; Close stops it.
type Sim struct {
	cfg          Config
	log          *slog.Logger
	journal      *Journal
	creds        map[string]Credential
	quotas       *quotas
	reg          *registry
	nonces       nonceCache
	maxCertBytes int
	certNow      func() time.Time

	attemptsMu sync.Mutex
	attempts   map[string]int

	oss  *OSS
	dns  *dnsState
	edge *Edge
	lbs  *lbState
	esa  *esaState
	fc   *fcState

	// accounts are the other accounts' Sims, by ID (sts.go); root is the
	// Sim an account's Sim belongs to (nil for the emulator's own), and
	// settings its configuration.
	accounts map[string]*Sim
	root     *Sim
	settings AccountSettings
	// sts holds the credentials AssumeRole gave.
	sts stsState

	mu        sync.Mutex
	dnsSrv    *dnsServer
	acme      *acmeCA
	started   bool
	openapiLn net.Listener
	casIntlLn net.Listener
	ossLn     net.Listener
	acmeLn    net.Listener
	servers   []*http.Server
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Endpoints are the URLs the emulator listens on.
type Endpoints struct {
	// OpenAPI serves every registered product (the Product* constants),
	// Certificate Management Service as its cn-hangzhou endpoint:
	// "http://127.0.0.1:PORT".
	OpenAPI string
	// CASIntl serves the ap-southeast-1 Certificate Management Service
	// only (cas.go).
	CASIntl string
	// DNS is the authoritative DNS server's "127.0.0.1:PORT", UDP and TCP;
	// empty when it does not run (no zones and no ACME CA).
	DNS string
	// ACMEDirectory is the ACME CA's directory,
	// "https://127.0.0.1:PORT/dir"; empty when it does not run.
	ACMEDirectory string
	// ACMETrustRoots is the PEM file of the root of the ACME CA's HTTPS
	// certificate; empty when the CA does not run.
	ACMETrustRoots string
	// ACMEIssuerRoot is the PEM file of the root the ACME CA's issued
	// chains lead to; empty when the CA does not run.
	ACMEIssuerRoot string
	// OSS serves object storage, path style; empty when disabled.
	OSS string
	// Edge is the TLS front's "127.0.0.1:PORT" (edge.go): it serves each
	// domain the certificate last set on it; empty when disabled.
	Edge string
}

// New builds an emulator from cfg: domains registered, seeded
// certificates installed, the OSS emulator configured. It binds nothing
// until Start.
func New(cfg Config) (*Sim, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	s := &Sim{
		cfg:          cfg,
		log:          cfg.Logger,
		journal:      NewJournal(cfg.JournalWriter),
		creds:        map[string]Credential{},
		reg:          newRegistry(),
		maxCertBytes: cfg.MaxCertificateBytes,
		certNow:      cfg.CertificateClock,
		attempts:     map[string]int{},
		done:         make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxCertBytes == 0 {
		s.maxCertBytes = DefaultMaxCertificateBytes
	}
	if s.certNow == nil {
		s.certNow = time.Now
	}
	for _, c := range cfg.Credentials {
		s.creds[c.AccessKeyID] = c
	}
	limits := DefaultQuotas()
	// Each product's own quota, by product/action, where products share
	// an action name; a configured quota (by action) applies to all.
	for _, p := range catalog().products {
		for _, a := range p.actions {
			limits[p.name+"/"+a.action] = a.quota
		}
	}
	maps.Copy(limits, cfg.Quotas)
	for _, p := range catalog().products {
		for _, a := range p.actions {
			if q, ok := cfg.Quotas[a.action]; ok {
				limits[p.name+"/"+a.action] = q
			}
		}
	}
	s.quotas = newQuotas(limits)

	for _, p := range catalog().products {
		if p.domains == nil {
			continue
		}
		for _, d := range p.domains.configured(cfg.Domains) {
			ent := &domainEntry{state: d.State}
			if ent.state == "" {
				ent.state = StateOnline
			}
			if sc := d.Installed; sc != nil {
				dc := DomainCert{CertName: sc.CertName, CertPEM: sc.Cert, HTTPS: sc.HTTPS == nil || *sc.HTTPS,
					CertType: "upload", NotAfter: sc.NotAfter.UTC()}
				if leaf, ok := firstCertificate(sc.Cert); ok {
					describeLeaf(&dc, leaf)
				}
				rec := s.reg.nameLocked(sc.CertName, dc.Fingerprint)
				if rec.fingerprint != dc.Fingerprint {
					return nil, fmt.Errorf("cloudsim: certificate name %s is seeded with two different certificates", sc.CertName)
				}
				dc.CertID = rec.id
				if leaf, ok := firstCertificate(sc.Cert); ok {
					// The products keep their uploads in CAS (cas.go).
					s.reg.putCASLocked(CASRegionHangzhou, sc.CertName, rec.id, sc.Cert, "", leaf, "seed", s.certNow())
				}
				ent.prod = dc
			}
			s.reg.domains[domainKey(p.name, d.Name)] = ent
		}
	}

	if err := s.seedCAS(); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	lbs, err := newLBState(cfg.LoadBalancers, time.Now(), func(name string) (string, bool) {
		for _, r := range casRegions() {
			if c, ok := s.lookupCAS(r, 0, name); ok {
				return strconv.FormatInt(c.id, 10) + "-" + r, true
			}
		}
		return "", false
	})
	if err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	s.lbs = lbs
	if err := s.newAccounts(); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}

	st, err := newDNSState(cfg.DNS, time.Now)
	if err != nil {
		return nil, err
	}
	s.dns = st
	if s.esa, err = newESAState(cfg.ESA, st, time.Now().UTC()); err != nil {
		return nil, err
	}
	s.fc = newFCState(cfg.FC, time.Now().UTC())

	if !cfg.Edge.Disabled {
		e, err := NewEdge(EdgeConfig{Addr: cfg.Edge.Addr, Delay: cfg.Edge.Delay, Logger: s.log})
		if err != nil {
			return nil, err
		}
		s.edge = e
		// One front serves every account's domains, as one resolver
		// reaches them all.
		for _, a := range s.accounts {
			a.edge = e
		}
	}
	if !cfg.OSS.Disabled {
		oss, err := NewOSS(s.ossConfig())
		if err != nil {
			return nil, err
		}
		s.oss = oss
	}
	return s, nil
}

// ossConfig turns the OSS settings into the OSS emulator's configuration,
// sharing the emulator's credentials and journal.
func (s *Sim) ossConfig() OSSConfig {
	o := s.cfg.OSS
	creds := map[string]OSSCredential{}
	for _, c := range s.cfg.Credentials {
		if !c.Disabled && !c.Expired {
			creds[c.AccessKeyID] = OSSCredential{Secret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
		}
	}
	var triggers []OSSTrigger
	for _, t := range o.Triggers {
		tr := OSSTrigger{
			URL: t.URL, Bucket: t.Bucket, Events: t.Events, Prefix: t.Prefix, Suffix: t.Suffix,
			FunctionName: t.FunctionName, FunctionTimeout: t.Timeout,
		}
		if c, ok := s.creds[t.Credentials]; ok {
			tr.AccessKeyID, tr.AccessKeySecret, tr.SecurityToken = c.AccessKeyID, c.AccessKeySecret, c.SecurityToken
		}
		triggers = append(triggers, tr)
	}
	return OSSConfig{
		Region:            o.Region,
		AccountID:         o.AccountID,
		Credentials:       creds,
		Buckets:           o.Buckets,
		AutoCreateBuckets: o.AutoCreateBuckets,
		DataDir:           o.DataDir,
		MaxObjectSize:     o.MaxObjectSize,
		Journal:           s.journal,
		Triggers:          triggers,
		Faults:            o.Faults,
		CertificateClock:  s.certNow,
		CASLookup: func(region string, id int64) (*x509.Certificate, bool) {
			c, ok := s.lookupCAS(region, id, "")
			return c.leaf, ok
		},
		OnCnameCertificate: s.cnameToEdge,
	}
}

// cnameToEdge makes the edge serve what PutCname set on an OSS custom
// domain.
func (s *Sim) cnameToEdge(domain string, c CnameCertificate) {
	switch {
	case c.Removed:
		s.edgeRemove(domain)
	case c.CASID != 0:
		if cc, ok := s.lookupCAS(c.CASRegion, c.CASID, ""); ok {
			s.edgeSet(domain, cc.certPEM, cc.key)
		}
	default:
		s.edgeSet(domain, c.CertPEM, c.KeyPEM)
	}
}

// edgeSet makes the edge serve a certificate for domain (after its
// delay); a certificate without its key (a seeded one) is not served.
func (s *Sim) edgeSet(domain, certPEM, keyPEM string) {
	if s.edge == nil || certPEM == "" || keyPEM == "" {
		return
	}
	if err := s.edge.SetPEM(domain, certPEM, keyPEM, time.Now()); err != nil {
		s.log.Debug("cloudsim: the edge cannot serve the certificate", "domain", domain, "err", err)
	}
}

// edgeRemove makes the edge serve nothing for domain (HTTPS off).
func (s *Sim) edgeRemove(domain string) {
	if s.edge != nil {
		s.edge.Remove(domain, time.Now())
	}
}

// Edge returns the TLS front, nil when disabled.
func (s *Sim) Edge() *Edge { return s.edge }

// Start binds the listeners and serves until Close or until ctx ends.
func (s *Sim) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("cloudsim: already started")
	}
	s.started = true
	addr := s.cfg.OpenAPIAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cloudsim: openapi listener: %w", err)
	}
	s.openapiLn = ln
	s.serve(ln, openAPIHandler{s: s, region: CASRegionHangzhou})
	intlAddr := s.cfg.CASIntlAddr
	if intlAddr == "" {
		intlAddr = "127.0.0.1:0"
	}
	iln, err := lc.Listen(ctx, "tcp", intlAddr)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("cloudsim: cas ap-southeast-1 listener: %w", err)
	}
	s.casIntlLn = iln
	s.serve(iln, openAPIHandler{s: s, region: CASRegionSingapore, casOnly: true})
	if s.oss != nil {
		addr := s.cfg.OSSAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		oln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			_ = ln.Close()
			_ = iln.Close()
			return fmt.Errorf("cloudsim: oss listener: %w", err)
		}
		s.ossLn = oln
		s.serve(oln, s.oss)
	}
	if s.edge != nil {
		if err := s.edge.Start(ctx); err != nil {
			s.closeListenersLocked()
			return err
		}
	}
	if len(s.cfg.DNS.Zones) > 0 || len(s.cfg.ESA.Sites) > 0 || s.cfg.ACME.Enabled {
		d, err := startDNSServer(ctx, s.dns, s.cfg.DNS.Addr, s.log)
		if err != nil {
			s.closeListenersLocked()
			return err
		}
		s.dnsSrv = d
	}
	if s.cfg.ACME.Enabled {
		if err := s.startACME(ctx); err != nil {
			s.closeListenersLocked()
			_ = s.dnsSrv.shutdown(ctx)
			return err
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return nil
}

// startACME builds pebble resolving through the DNS server, writes the
// trust root and serves HTTPS. Callers hold s.mu.
func (s *Sim) startACME(ctx context.Context) error {
	a, pair, err := newACMECA(s.cfg.ACME, s.dnsSrv.addr, s.log, s.journal)
	if err != nil {
		return err
	}
	if err := a.writeRoots(); err != nil {
		_ = a.close()
		return err
	}
	addr := s.cfg.ACME.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		_ = a.close()
		return fmt.Errorf("cloudsim: acme listener: %w", err)
	}
	s.acmeLn = ln
	a.url = "https://" + ln.Addr().String()
	s.acme = a
	s.serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}), a)
	return nil
}

// closeListenersLocked closes what Start bound so far, after a failure.
func (s *Sim) closeListenersLocked() {
	for _, ln := range []net.Listener{s.openapiLn, s.casIntlLn, s.ossLn, s.acmeLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if s.edge != nil {
		_ = s.edge.Close()
	}
}

func (s *Sim) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln)
	}()
}

// Endpoints returns the listeners' URLs; empty before Start.
func (s *Sim) Endpoints() Endpoints {
	s.mu.Lock()
	defer s.mu.Unlock()
	var e Endpoints
	if s.openapiLn != nil {
		e.OpenAPI = "http://" + s.openapiLn.Addr().String()
	}
	if s.casIntlLn != nil {
		e.CASIntl = "http://" + s.casIntlLn.Addr().String()
	}
	if s.ossLn != nil {
		e.OSS = "http://" + s.ossLn.Addr().String()
	}
	if s.dnsSrv != nil {
		e.DNS = s.dnsSrv.addr
	}
	if s.edge != nil {
		e.Edge = s.edge.Addr()
	}
	if s.acme != nil {
		e.ACMEDirectory = s.acme.url + s.acme.dirPath
		e.ACMETrustRoots = s.acme.rootFile
		e.ACMEIssuerRoot = s.acme.issuerRootFile
	}
	return e
}

// Env returns the environment that points certdrop at the emulator, as
// NAME=value pairs: every registered product's endpoint variable on the
// OpenAPI listener (CERTDROP_CDN_ENDPOINT, CERTDROP_ALIDNS_ENDPOINT,
// CERTDROP_CAS_ENDPOINT for Certificate Management Service in
// cn-hangzhou, ...), CERTDROP_CAS_AP_SOUTHEAST_1_ENDPOINT (its
// ap-southeast-1 endpoint), CERTDROP_OSS_ENDPOINT (when OSS runs),
// CERTDROP_DNS_RESOLVERS (when the DNS server runs),
// CERTDROP_ACME_DIRECTORY, CERTDROP_ACME_TRUST_ROOTS and
// CERTDROP_SIM_ACME_ISSUER_ROOT (the file of the root the issued chains
// lead to, for scripts to add to CERTDROP_TRUST_ROOTS; certdrop itself
// does not read it) when the ACME CA runs, CERTDROP_PROBE_DIAL (the
// edge, so that certdrop's probes reach it) when the edge runs, and ALIBABA_CLOUD_ACCESS_KEY_ID
// of the first configured credential. The secret is left out on purpose:
// it is in the configuration file.
func (s *Sim) Env() []string {
	e := s.Endpoints()
	var env []string
	if e.OpenAPI != "" {
		for _, p := range catalog().products {
			for _, name := range p.env {
				env = append(env, name+"="+e.OpenAPI)
			}
		}
	}
	if e.CASIntl != "" {
		env = append(env, config.CASIntlEndpoint+"="+e.CASIntl)
	}
	if e.OSS != "" {
		env = append(env, config.OSSEndpoint+"="+e.OSS)
	}
	if e.DNS != "" {
		env = append(env, config.DNSResolvers+"="+e.DNS)
	}
	if e.ACMEDirectory != "" {
		env = append(env, "CERTDROP_ACME_DIRECTORY="+e.ACMEDirectory, config.ACMETrustRoots+"="+e.ACMETrustRoots,
			"CERTDROP_SIM_ACME_ISSUER_ROOT="+e.ACMEIssuerRoot)
	}
	if e.Edge != "" {
		env = append(env, config.ProbeDial+"="+e.Edge)
	}
	if len(s.cfg.Credentials) > 0 {
		env = append(env, "ALIBABA_CLOUD_ACCESS_KEY_ID="+s.cfg.Credentials[0].AccessKeyID)
	}
	return env
}

// Journal returns the call journal.
func (s *Sim) Journal() *Journal { return s.journal }

// OSS returns the OSS emulator, nil when disabled.
func (s *Sim) OSS() *OSS { return s.oss }

// Handler returns the OpenAPI handler, to serve it elsewhere (behind TLS in
// a test, say).
func (s *Sim) Handler() http.Handler { return openAPIHandler{s: s, region: CASRegionHangzhou} }

// Installed returns what a domain of product (a product configured under
// Config.Domains, such as ProductCDN) carries in production, as Describe
// reports it.
func (s *Sim) Installed(product, domain string) (DomainCert, bool) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	ent := s.reg.domains[domainKey(product, domain)]
	if ent == nil {
		return DomainCert{}, false
	}
	return ent.prod, true
}

// Staging returns what Env=staging installed on a domain, if anything.
func (s *Sim) Staging(product, domain string) (DomainCert, bool) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	ent := s.reg.domains[domainKey(product, domain)]
	if ent == nil || ent.staging == nil {
		return DomainCert{}, false
	}
	return *ent.staging, true
}

// SetDomainState changes a registered domain's state (online, offline,
// configuring, safemode), as an operator would mid-run.
func (s *Sim) SetDomainState(product, domain, state string) error {
	switch state {
	case StateOnline, StateOffline, StateConfiguring, StateSafeMode:
	default:
		return fmt.Errorf("cloudsim: unknown domain state %q", state)
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	ent := s.reg.domains[domainKey(product, domain)]
	if ent == nil {
		return fmt.Errorf("cloudsim: no %s domain %s", product, strings.ToLower(domain))
	}
	ent.state = state
	return nil
}

// Close stops the listeners, cuts connections held by slow answers, and
// stops the OSS emulator's trigger deliveries. It is safe to call more
// than once.
func (s *Sim) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		servers := s.servers
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, srv := range servers {
			if e := srv.Shutdown(ctx); e != nil {
				_ = srv.Close()
			}
		}
		s.wg.Wait()
		if s.edge != nil {
			err = s.edge.Close()
		}
		s.mu.Lock()
		d, a := s.dnsSrv, s.acme
		s.mu.Unlock()
		if d != nil {
			err = errors.Join(err, d.shutdown(ctx))
		}
		if a != nil {
			err = errors.Join(err, a.close())
		}
		if s.oss != nil {
			err = errors.Join(err, s.oss.Close())
		}
	})
	return err
}
