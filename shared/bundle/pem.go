package bundle

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"strings"
)

var (
	utf8BOM  = []byte{0xEF, 0xBB, 0xBF}
	pemBegin = []byte("-----BEGIN ")
	pemEnd   = []byte("-----END ")
)

// block is one decoded PEM block and the line of its BEGIN, for messages.
type block struct {
	*pem.Block
	line int
}

// decodeBlocks returns every PEM block of a source, in order. Text between
// blocks (openssl's "subject=" and "Bag Attributes" lines), blank lines,
// indentation, CRLF or CR line endings, byte-order marks (also those left in
// the middle by concatenating files) and a missing newline between two
// blocks are accepted. A block that starts but cannot be decoded, and an END
// line without its BEGIN, are ErrMalformed, never skipped. A source that is
// binary (DER, PKCS#12, an archive) or UTF-16 is ErrMalformed with a hint on
// converting it; a text source without any block yields no blocks.
func decodeBlocks(s Source) ([]block, error) {
	if err := sniffNotPEM(s); err != nil {
		return nil, err
	}
	data := normalizeText(s.Data)
	var blocks []block
	// lineAt counts lines forward only, so a source of many small blocks
	// stays linear.
	line, counted := 1, 0
	lineAt := func(pos int) int {
		line += bytes.Count(data[counted:pos], []byte("\n"))
		counted = pos
		return line
	}
	for off := 0; ; {
		i := bytes.Index(data[off:], pemBegin)
		if j := bytes.Index(data[off:], pemEnd); j >= 0 && (i < 0 || j < i) {
			return nil, newError(ErrMalformed, s.Name,
				fmt.Sprintf("line %d has an END line (%s) without its BEGIN line", lineAt(off+j), blockLabel(data[off+j+len(pemEnd):])),
				"the file was cut or edited: export it again, or restore the missing BEGIN line")
		}
		if i < 0 {
			break
		}
		i += off
		blk, rest := pem.Decode(data[i:])
		end := len(data) - len(rest)
		// pem.Decode skips a block it cannot decode and returns the next
		// good one: a second BEGIN inside what it consumed means the block
		// at i was skipped.
		if blk == nil || bytes.Contains(data[i+1:end], pemBegin) {
			return nil, newError(ErrMalformed, s.Name,
				fmt.Sprintf("the PEM block at line %d (%s) cannot be decoded", lineAt(i), blockLabel(data[i+len(pemBegin):])),
				"the file is truncated or was edited: check its BEGIN/END lines and base64 body, or export it again")
		}
		blocks = append(blocks, block{Block: blk, line: lineAt(i)})
		off = end
	}
	return blocks, nil
}

// normalizeText rewrites PEM text so that every BEGIN and END marker starts
// a line of its own: byte-order marks go, CRLF and CR become LF, leading
// blanks go, and a marker glued to the text before it (files concatenated
// without a final newline) gets its own line.
func normalizeText(in []byte) []byte {
	in = bytes.ReplaceAll(in, utf8BOM, nil)
	out := make([]byte, 0, len(in)+64)
	lineStart := true
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '\r':
			if i+1 < len(in) && in[i+1] == '\n' {
				continue
			}
			out, lineStart = append(out, '\n'), true
		case c == '\n':
			out, lineStart = append(out, '\n'), true
		case lineStart && (c == ' ' || c == '\t'):
			// drop indentation
		case c == '-' && !lineStart && (bytes.HasPrefix(in[i:], pemBegin) || bytes.HasPrefix(in[i:], pemEnd)):
			out = append(out, '\n', c)
			lineStart = false
		default:
			out, lineStart = append(out, c), false
		}
	}
	return out
}

// blockLabel returns the type named after a BEGIN or END marker, up to its
// closing dashes. Only a label shaped like the real ones ("CERTIFICATE",
// "X509 CRL", "ENCRYPTED PRIVATE KEY": short upper-case words) is repeated;
// anything else (say, base64 glued to the marker) is not, so a message can
// never echo key material.
func blockLabel(after []byte) string {
	const unknown = "unrecognised label"
	label, _, ok := bytes.Cut(after, []byte("-----"))
	if !ok || len(label) == 0 || len(label) > 40 {
		return unknown
	}
	for _, word := range bytes.Split(label, []byte(" ")) {
		if len(word) == 0 || len(word) > 16 {
			return unknown
		}
		for _, c := range word {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '#') {
				return unknown
			}
		}
	}
	return string(label)
}

// sniffNotPEM reports a source that cannot be PEM text at all: UTF-16 text,
// or binary data. DER certificates and keys and PKCS#12 archives are named,
// with the command that converts them.
func sniffNotPEM(s Source) error {
	data := s.Data
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return newError(ErrMalformed, s.Name, "is UTF-16 text, not PEM",
			"save it as plain ASCII or UTF-8 (in Notepad: Save As, Encoding UTF-8)")
	}
	if bytes.Contains(data, pemBegin) {
		return nil
	}
	isDER := false
	ders := [][]byte{data}
	if len(data) > 0 && data[0] == 0x30 {
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(data, &rv)
		isDER = err == nil && len(bytes.TrimSpace(rest)) == 0
		if isDER && len(rest) > 0 {
			// The DER gained trailing whitespace in transit: try the DER
			// element alone too (cut by its own length, not by trimming:
			// a signature may end in a byte that looks like a newline).
			ders = append(ders, data[:len(data)-len(rest)])
		}
	}
	if !isDER && !hasControlBytes(data) {
		return nil // text without PEM blocks: a README, notes (any charset)
	}
	switch {
	case !isDER:
		return newError(ErrMalformed, s.Name, "holds binary data, not PEM text",
			"give the PEM files themselves (fullchain.pem and privkey.pem, or the .cer and .key files), not an archive")
	case anyParses(ders, func(der []byte) error { _, err := x509.ParseCertificate(der); return err }):
		return newError(ErrMalformed, s.Name, "holds a DER (binary) certificate, not PEM",
			"convert it: openssl x509 -inform der -in cert.der -out cert.pem")
	case anyParses(ders, func(der []byte) error {
		if !isPKCS12(der) {
			return ErrMalformed
		}
		return nil
	}):
		return newError(ErrMalformed, s.Name, "is a PKCS#12 (.pfx/.p12) archive, not PEM",
			"extract the PEM certificate chain and key: openssl pkcs12 -in bundle.pfx -nodes -out bundle.pem")
	case anyParses(ders, func(der []byte) error { _, err := x509.ParsePKCS8PrivateKey(der); return err }),
		anyParses(ders, func(der []byte) error { _, err := x509.ParsePKCS1PrivateKey(der); return err }),
		anyParses(ders, func(der []byte) error { _, err := x509.ParseECPrivateKey(der); return err }):
		return newError(ErrMalformed, s.Name, "holds a DER (binary) private key, not PEM",
			"convert it: openssl pkey -inform der -in key.der -out privkey.pem")
	default:
		return newError(ErrMalformed, s.Name, "holds binary (DER) data that is not a certificate or key",
			"give the PEM files (fullchain.pem and privkey.pem, or the .cer and .key files)")
	}
}

// hasControlBytes reports bytes that text in any ASCII-compatible charset
// (UTF-8, GBK, Latin-1) never holds: C0 controls other than tab, line feed,
// vertical tab, form feed, carriage return and escape.
func hasControlBytes(data []byte) bool {
	for _, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r' && c != 0x1b {
			return true
		}
	}
	return false
}

func anyParses(ders [][]byte, parse func([]byte) error) bool {
	for _, der := range ders {
		if parse(der) == nil {
			return true
		}
	}
	return false
}

// isPKCS12 recognises a PFX: SEQUENCE { version INTEGER (3), authSafe
// ContentInfo, macData OPTIONAL }.
func isPKCS12(der []byte) bool {
	var pfx struct {
		Version  int
		AuthSafe struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
		}
		MacData asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(der, &pfx)
	return err == nil && len(rest) == 0 && pfx.Version == 3
}

// isKeyBlock reports whether a PEM block type is a private key Parse must
// look at, usable or not.
func isKeyBlock(typ string) bool {
	switch typ {
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
		"DSA PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return true
	}
	return false
}

// supportedCurve reports the ECDSA curves certdrop takes: P-256 and P-384,
// what public CAs issue (the Chrome Root Program allows no other) and what
// every TLS client verifies. P-521 is refused also for its cost: one
// signature check takes 3 ms, thirty times P-256's (see limits.go).
func supportedCurve(c elliptic.Curve) bool {
	return c == elliptic.P256() || c == elliptic.P384()
}

// minRSABits is the smallest RSA key Parse accepts.
const minRSABits = 1024

// parseKey decodes one private-key block into an RSA or ECDSA key, or says
// precisely why it cannot be used.
func parseKey(source string, blk block) (crypto.Signer, error) {
	if blk.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(blk.Headers["Proc-Type"], "ENCRYPTED") || blk.Headers["DEK-Info"] != "" {
		return nil, newError(ErrEncryptedKey, source,
			fmt.Sprintf("the private key at line %d is encrypted with a passphrase", blk.line),
			"decrypt it first (openssl pkey -in privkey.pem -out privkey.plain.pem) and keep the result safe: the APIs take an unencrypted key")
	}
	unsupported := func(kind string) error {
		return newError(ErrUnsupportedKey, source,
			fmt.Sprintf("the private key at line %d is %s", blk.line, kind),
			"certdrop deploys RSA and ECDSA keys only: issue the certificate with an RSA (2048 bits or more) or ECDSA P-256 key")
	}
	malformed := func(err error) error {
		return newError(ErrMalformed, source,
			fmt.Sprintf("the %s block at line %d cannot be parsed: %s", blk.Type, blk.line, sanitize(err)),
			"the key file is damaged: export it again")
	}
	var key any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			if alg := pkcs8Algorithm(blk.Bytes); alg != "" {
				return nil, unsupported(alg)
			}
		}
	case "DSA PRIVATE KEY":
		return nil, unsupported("a DSA key")
	case "OPENSSH PRIVATE KEY":
		return nil, unsupported("an OpenSSH key, not a TLS key")
	}
	if err != nil {
		return nil, malformed(err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < minRSABits {
			// Go refuses to sign or verify with these (crypto/rsa), and
			// no CA has issued one since 2013.
			return nil, unsupported(fmt.Sprintf("a %d-bit RSA key, under the %d-bit minimum", n, minRSABits))
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if !supportedCurve(k.Curve) {
			return nil, unsupported("an ECDSA key on " + k.Curve.Params().Name + ", not P-256 or P-384")
		}
		return k, nil
	case ed25519.PrivateKey:
		return nil, unsupported("an Ed25519 key")
	case *ecdh.PrivateKey:
		return nil, unsupported("an X25519 key")
	default:
		return nil, unsupported(fmt.Sprintf("of type %T", key))
	}
}

var keyAlgorithms = map[string]string{
	"1.2.840.10040.4.1": "a DSA key",
	"1.3.101.110":       "an X25519 key",
	"1.3.101.111":       "an X448 key",
	"1.3.101.112":       "an Ed25519 key",
	"1.3.101.113":       "an Ed448 key",
}

// pkcs8Algorithm names a PKCS#8 key's algorithm when it is one we know and
// refuse, so the message says "DSA" rather than an ASN.1 error.
func pkcs8Algorithm(der []byte) string {
	var k struct {
		Version int
		Algo    struct {
			Algorithm asn1.ObjectIdentifier
			Params    asn1.RawValue `asn1:"optional"`
		}
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(der, &k); err != nil {
		return ""
	}
	return keyAlgorithms[k.Algo.Algorithm.String()]
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// publicKeyType describes a public key: "RSA-2048", "ECDSA-P256".
func publicKeyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + strings.ReplaceAll(k.Curve.Params().Name, "-", "")
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// sanitize keeps an error to its first line, without the field-tag dump
// encoding/asn1 appends. Parser errors from the standard library name
// structures, not content, so this is about readability.
func sanitize(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	msg, _, _ = strings.Cut(msg, " {optional:")
	return msg
}
