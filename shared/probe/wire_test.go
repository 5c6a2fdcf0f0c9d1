package probe

import (
	"bytes"
	"crypto/tls"
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// recorder keeps every byte read from the connection.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.buf.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

type record struct {
	typ       byte
	handshake byte // first handshake message type, for type 0x16
}

// records splits a byte stream into TLS records.
func records(t *testing.T, b []byte) []record {
	t.Helper()
	var out []record
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("%d trailing bytes are not a record header", len(b))
		}
		n := int(b[3])<<8 | int(b[4])
		if len(b) < 5+n {
			t.Fatalf("record of %d bytes truncated at %d", n, len(b)-5)
		}
		r := record{typ: b[0]}
		if r.typ == 0x16 && n > 0 {
			r.handshake = b[5]
		}
		out = append(out, r)
		b = b[5+n:]
	}
	return out
}

// TestSendsOnlyClientHello records what the probe sends to real TLS
// servers: a ClientHello record (with a HelloRetryRequest, the dummy
// ChangeCipherSpec and the second ClientHello) and nothing else: no
// Finished, no alert, no application data, no HTTP.
func TestSendsOnlyClientHello(t *testing.T) {
	cert := testCert(t, "w", time.Now().Add(30*24*time.Hour), "w.example.test")
	tests := []struct {
		name string
		cfg  *tls.Config
		want []record
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, []record{{0x16, 1}}},
		{"TLS 1.2", &tls.Config{MaxVersion: tls.VersionTLS12}, []record{{0x16, 1}}},
		{"TLS 1.3 with HelloRetryRequest", &tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.CurveP384}},
			[]record{{0x16, 1}, {0x14, 0}, {0x16, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				rec := &recorder{Conn: c}
				cfg := tc.cfg.Clone()
				cfg.Certificates = []tls.Certificate{cert}
				_ = tls.Server(rec, cfg).Handshake()
				// Whatever the client sends after the handshake failed.
				_, _ = io.Copy(io.Discard, rec)
				rec.mu.Lock()
				got <- bytes.Clone(rec.buf.Bytes())
				rec.mu.Unlock()
			}()
			p, err := New(Options{Rate: math.Inf(1), Dial: ln.Addr().String()})
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Probe(t.Context(), []Request{{Name: "w.example.test", Expected: bundle.Fingerprint(cert.Leaf)}})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Verdict != Serving {
				t.Fatalf("verdict %s (%s), want serving", res[0].Verdict, res[0].Reason)
			}
			recs := records(t, <-got)
			if len(recs) != len(tc.want) {
				t.Fatalf("the probe sent records %x, want %x", recs, tc.want)
			}
			for i := range recs {
				if recs[i] != tc.want[i] {
					t.Errorf("record %d is %x, want %x", i, recs[i], tc.want[i])
				}
				if recs[i].typ == 0x17 {
					t.Errorf("record %d is application data", i)
				}
			}
		})
	}
}

// sink collects what helloOnly lets through.
type sink struct {
	net.Conn
	buf bytes.Buffer
}

func (s *sink) Write(p []byte) (int, error) { return s.buf.Write(p) }

func TestHelloOnlyFilter(t *testing.T) {
	rec := func(typ byte, body ...byte) []byte {
		return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	hello := rec(0x16, 1, 0, 0, 2, 9, 9)
	ccs := rec(0x14, 1)
	alert := rec(0x15, 2, 42)
	appData := rec(0x17, 1, 2, 3, 4, 5, 6, 7, 8)
	stream := bytes.Join([][]byte{hello, alert, appData, ccs, hello}, nil)
	want := bytes.Join([][]byte{hello, ccs, hello}, nil)
	for _, chunk := range []int{1, 2, 3, 5, 7, len(stream)} {
		s := &sink{}
		c := &helloOnly{Conn: s}
		for b := stream; len(b) > 0; {
			n := min(chunk, len(b))
			if w, err := c.Write(b[:n]); w != n || err != nil {
				t.Fatalf("chunk %d: Write = %d, %v", chunk, w, err)
			}
			b = b[n:]
		}
		if !bytes.Equal(s.buf.Bytes(), want) {
			t.Errorf("chunk %d: sent %x, want %x", chunk, s.buf.Bytes(), want)
		}
		c.mute()
		if _, err := c.Write(hello); err != nil || !bytes.Equal(s.buf.Bytes(), want) {
			t.Errorf("chunk %d: a muted connection sent more", chunk)
		}
	}
}
