package cloudsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// Edge limits.
const (
	// EdgeMaxConns is how many connections an Edge serves at once; more
	// wait in the listen queue.
	EdgeMaxConns = 256
	// edgeConnTimeout bounds one connection: handshake and what follows.
	edgeConnTimeout = 10 * time.Second
	// edgeMaxPending is how many not-yet-served certificates a name
	// keeps; older pending ones are dropped first.
	edgeMaxPending = 16
)

// EdgeConfig configures an Edge. Zero fields take the defaults.
type EdgeConfig struct {
	// Addr is the listen address, "127.0.0.1:0" when empty.
	Addr string
	// Delay is how long after a Set the new certificate is served; until
	// then the edge serves what it served before (a slow CDN).
	Delay time.Duration
	// Default, when set, is served for a name that carries no
	// certificate (as a CDN answers with its own certificate); without
	// it such a handshake fails with unrecognized_name.
	Default *tls.Certificate
	// Now is the clock of Set's at and of the delays; time.Now when nil.
	Now func() time.Time
	// Logger receives one debug line per handshake; discarded when nil.
	Logger *slog.Logger
}

// Edge is the emulator's TLS front: one listener that answers each SNI
// name with the certificate last set on that domain, after a configurable
// delay. It answers a name from the exact domain first, then from the
// wildcard domain one label up ("*.example.com", as the CDN writes it
// ".example.com", answers a.example.com). Names are shared by the
// products: the last Set on a name, whichever product's, is served.
// It serves the handshake only; what a client sends after is read and
// discarded until it closes or the connection's 10 s run out.
//
// The emulator calls Set when a Set operation installs a certificate on a
// domain, and Remove when one turns HTTPS off; Start binds the listener,
// and Addr is what CERTDROP_PROBE_DIAL names to probe through it.
type Edge struct {
	cfg EdgeConfig
	log *slog.Logger

	mu     sync.Mutex
	names  map[string][]edgeCert // pending and current, by from, ascending
	delays map[string]time.Duration

	lnMu  sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	sem   chan struct{}
	wg    sync.WaitGroup
	done  chan struct{}
	once  sync.Once
}

// edgeCert is a certificate served for a name from a time on; cert nil
// serves nothing (HTTPS off).
type edgeCert struct {
	from time.Time
	cert *tls.Certificate
}

// NewEdge builds an Edge; it binds nothing until Start.
func NewEdge(cfg EdgeConfig) (*Edge, error) {
	if cfg.Delay < 0 {
		return nil, errors.New("cloudsim: edge delay must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Edge{cfg: cfg, log: log, names: map[string][]edgeCert{}, delays: map[string]time.Duration{},
		conns: map[net.Conn]struct{}{}, sem: make(chan struct{}, EdgeMaxConns), done: make(chan struct{})}, nil
}

// Set makes the edge serve cert for name from at plus the delay on (at is
// on the Edge's clock, EdgeConfig.Now). cert must hold its private key.
func (e *Edge) Set(name string, cert tls.Certificate, at time.Time) error {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return errors.New("cloudsim: edge: a certificate and its private key are required")
	}
	e.put(name, &cert, at)
	return nil
}

// SetPEM is Set with the chain and key in PEM, as the Set operations
// receive them.
func (e *Edge) SetPEM(name, certPEM, keyPEM string, at time.Time) error {
	c, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		// The error of X509KeyPair never holds key material.
		return fmt.Errorf("cloudsim: edge: %w", err)
	}
	e.put(name, &c, at)
	return nil
}

// Remove makes the edge serve nothing for name (HTTPS off) from at plus
// the delay on.
func (e *Edge) Remove(name string, at time.Time) { e.put(name, nil, at) }

// SetDelay sets name's delay, overriding EdgeConfig.Delay; negative
// restores the default.
func (e *Edge) SetDelay(name string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d < 0 {
		delete(e.delays, edgeKey(name))
		return
	}
	e.delays[edgeKey(name)] = d
}

// edgeKey is a name's key: lower case, without a trailing dot; a CDN
// wildcard domain ".example.com" is "*.example.com".
func edgeKey(name string) string {
	k := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if strings.HasPrefix(k, ".") {
		k = "*" + k
	}
	return k
}

func (e *Edge) put(name string, c *tls.Certificate, at time.Time) {
	k := edgeKey(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.delays[k]
	if !ok {
		d = e.cfg.Delay
	}
	list := e.prune(k, e.cfg.Now())
	ent := edgeCert{from: at.Add(d), cert: c}
	i, _ := slices.BinarySearchFunc(list, ent.from, func(x edgeCert, t time.Time) int {
		if x.from.After(t) {
			return 1
		}
		return -1 // equal times: the later Set goes after
	})
	list = slices.Insert(list, i, ent)
	if len(list) > edgeMaxPending+1 {
		// Drop the oldest pending, never the one served now.
		list = slices.Delete(list, 1, 2)
	}
	e.names[k] = list
}

// prune drops what is no longer served at now and returns name's list:
// its first entry is the one served now when its from has passed.
// Callers hold e.mu.
func (e *Edge) prune(k string, now time.Time) []edgeCert {
	list := e.names[k]
	cur := -1
	for i, c := range list {
		if c.from.After(now) {
			break
		}
		cur = i
	}
	if cur > 0 {
		list = slices.Delete(list, 0, cur)
		e.names[k] = list
	}
	return list
}

// served is the certificate the edge serves for a name at now, and
// whether the name has one.
func (e *Edge) served(name string, now time.Time) (*tls.Certificate, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := edgeKey(name)
	keys := []string{k}
	if _, parent, ok := strings.Cut(k, "."); ok && strings.Contains(parent, ".") {
		keys = append(keys, "*."+parent)
	}
	for _, k := range keys {
		list := e.prune(k, now)
		if len(list) > 0 && !list[0].from.After(now) {
			return list[0].cert, list[0].cert != nil
		}
	}
	return nil, false
}

// Serving is the leaf certificate (DER) the edge serves for name now, nil
// when it serves none (the Default aside).
func (e *Edge) Serving(name string) []byte {
	c, ok := e.served(name, e.cfg.Now())
	if !ok {
		return nil
	}
	return c.Certificate[0]
}

// Start binds the listener and serves until Close or until ctx ends.
func (e *Edge) Start(ctx context.Context) error {
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	if e.ln != nil {
		return errors.New("cloudsim: edge already started")
	}
	addr := e.cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cloudsim: edge listener: %w", err)
	}
	e.ln = ln
	tcfg := &tls.Config{GetCertificate: e.getCertificate}
	e.wg.Go(func() { e.accept(ln, tcfg) })
	go func() {
		select {
		case <-ctx.Done():
			_ = e.Close()
		case <-e.done:
		}
	}()
	return nil
}

func (e *Edge) accept(ln net.Listener, tcfg *tls.Config) {
	for {
		e.sem <- struct{}{}
		c, err := ln.Accept()
		if err != nil {
			<-e.sem
			return
		}
		e.lnMu.Lock()
		select {
		case <-e.done:
			e.lnMu.Unlock()
			_ = c.Close()
			<-e.sem
			return
		default:
		}
		e.conns[c] = struct{}{}
		e.lnMu.Unlock()
		e.wg.Go(func() {
			defer func() {
				e.lnMu.Lock()
				delete(e.conns, c)
				e.lnMu.Unlock()
				<-e.sem
			}()
			e.serveConn(c, tcfg)
		})
	}
}

func (e *Edge) serveConn(c net.Conn, tcfg *tls.Config) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(edgeConnTimeout))
	tc := tls.Server(c, tcfg)
	if err := tc.Handshake(); err != nil {
		e.log.Debug("cloudsim edge: handshake", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, tc)
}

func (e *Edge) getCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c, ok := e.served(h.ServerName, e.cfg.Now()); ok {
		return c, nil
	}
	if e.cfg.Default != nil {
		return e.cfg.Default, nil
	}
	// The handshake fails with an alert, as an edge that hosts no such
	// name.
	return nil, fmt.Errorf("cloudsim: edge: no certificate for %q", h.ServerName)
}

// Addr is the listener's "host:port"; empty before Start.
func (e *Edge) Addr() string {
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	if e.ln == nil {
		return ""
	}
	return e.ln.Addr().String()
}

// Close stops the listener, closes the connections it serves and waits
// for them.
func (e *Edge) Close() error {
	var err error
	e.once.Do(func() {
		close(e.done)
		e.lnMu.Lock()
		if e.ln != nil {
			err = e.ln.Close()
		}
		for c := range e.conns {
			_ = c.Close()
		}
		e.lnMu.Unlock()
		e.wg.Wait()
	})
	return err
}
