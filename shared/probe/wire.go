package probe

import (
	"net"
	"sync"
)

// TLS record types the probe lets through.
const (
	recordChangeCipherSpec = 0x14
	recordHandshake        = 0x16
)

// helloOnly is the probe's connection: it lets through the plaintext
// handshake records crypto/tls writes before the server's certificate is
// read (the ClientHello, and with a HelloRetryRequest the dummy
// ChangeCipherSpec and the second ClientHello) and drops every other
// record (alerts, encrypted records, application data) and every byte
// once the certificate is captured. crypto/tls flushes a buffered
// ChangeCipherSpec and an encrypted alert when the probe aborts the
// handshake; they never reach the wire.
type helloOnly struct {
	net.Conn
	mu    sync.Mutex
	muted bool
	hdr   []byte // the current record's header, while incomplete
	left  int    // bytes of the current record's body still to come
	pass  bool   // whether the current record goes out
}

// mute drops every later byte.
func (c *helloOnly) mute() {
	c.mu.Lock()
	c.muted = true
	c.mu.Unlock()
}

// Write sends the records it lets through and reports every byte as
// written, so that crypto/tls proceeds as if it had sent them all.
func (c *helloOnly) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.muted {
		return len(p), nil
	}
	var out []byte
	rest := p
	for len(rest) > 0 {
		if c.left == 0 {
			need := 5 - len(c.hdr)
			take := min(need, len(rest))
			c.hdr = append(c.hdr, rest[:take]...)
			rest = rest[take:]
			if len(c.hdr) < 5 {
				break
			}
			typ := c.hdr[0]
			c.left = int(c.hdr[3])<<8 | int(c.hdr[4])
			c.pass = typ == recordHandshake || typ == recordChangeCipherSpec
			if c.pass {
				out = append(out, c.hdr...)
			}
			c.hdr = c.hdr[:0]
			continue
		}
		take := min(c.left, len(rest))
		if c.pass {
			out = append(out, rest[:take]...)
		}
		c.left -= take
		rest = rest[take:]
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
