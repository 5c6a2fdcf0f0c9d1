package bundle

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
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
)

// decodeBlocks returns every PEM block of a source, in order. Text between
// blocks (openssl's "subject=" and "Bag Attributes" lines), blank lines, CRLF
// line endings and a UTF-8 byte-order mark are accepted; a block that starts
// but cannot be decoded is ErrMalformed, never skipped.
func decodeBlocks(s Source) ([]*pem.Block, error) {
	data := bytes.TrimPrefix(s.Data, utf8BOM)
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	var blocks []*pem.Block
	for off := 0; ; {
		i := nextBegin(data, off)
		if i < 0 {
			break
		}
		blk, rest := pem.Decode(data[i:])
		end := len(data) - len(rest)
		if blk == nil || nextBegin(data[:end], i+1) >= 0 {
			line := 1 + bytes.Count(data[:i], []byte("\n"))
			return nil, newError(ErrMalformed, s.Name,
				fmt.Sprintf("the PEM block at line %d (%s) cannot be decoded", line, blockLabel(data[i:])),
				"the file is truncated or was edited: check its BEGIN/END lines and base64 body, or export it again")
		}
		blocks = append(blocks, blk)
		off = end
	}
	if len(blocks) == 0 && len(bytes.TrimSpace(data)) > 0 && !bytes.Contains(data, []byte("-----")) {
		if _, err := x509.ParseCertificate(data); err == nil {
			return nil, newError(ErrMalformed, s.Name, "holds a DER (binary) certificate, not PEM",
				"convert it: openssl x509 -inform der -in cert.der -out cert.pem")
		}
	}
	return blocks, nil
}

// nextBegin finds a "-----BEGIN " at the start of a line, at or after off.
func nextBegin(data []byte, off int) int {
	for off < len(data) {
		i := bytes.Index(data[off:], pemBegin)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || data[i-1] == '\n' {
			return i
		}
		off = i + 1
	}
	return -1
}

// blockLabel returns the type named on a BEGIN line, without reading past it.
func blockLabel(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	label := strings.TrimPrefix(string(line), string(pemBegin))
	label = strings.TrimSuffix(strings.TrimSpace(label), "-----")
	if len(label) > 40 {
		label = label[:40]
	}
	return label
}

// parseKey decodes one private-key block into an RSA or ECDSA key, or says
// precisely why it cannot be used.
func parseKey(source string, blk *pem.Block) (crypto.Signer, error) {
	if blk.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(blk.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, newError(ErrEncryptedKey, source, "the private key is encrypted with a passphrase",
			"decrypt it first (openssl pkey -in key.pem -out key.plain.pem) and keep the result safe: the APIs take an unencrypted key")
	}
	unsupported := func(kind string) error {
		return newError(ErrUnsupportedKey, source, "the private key is "+kind,
			"the CDN, VOD and Live APIs take RSA and ECDSA keys: issue the certificate with an RSA or ECDSA key")
	}
	malformed := func(err error) error {
		return newError(ErrMalformed, source,
			fmt.Sprintf("the %s block cannot be parsed: %v", blk.Type, sanitize(err)),
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
		return k, nil
	case *ecdsa.PrivateKey:
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

// sanitize keeps an error to its first line. Parser errors from the standard
// library name structures, not content, so this is about readability.
func sanitize(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
