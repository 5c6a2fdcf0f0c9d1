package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

func TestParseAcceptsInputForms(t *testing.T) {
	p := fixture(t)
	leaf, inter := p.leaf.PEM(), p.inter1.PEM()
	rsaPKCS8 := keyPEM(t, p.rsaKey, testpki.PKCS8)
	rsaPKCS1 := keyPEM(t, p.rsaKey, testpki.PKCS1)
	ecLeaf := p.leafEC.PEM()
	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	bom := []byte("\xEF\xBB\xBF")

	tests := []struct {
		name     string
		srcs     []bundle.Source
		keyType  string
		chain    string // CNs from the leaf up
		warnings int
	}{
		{
			name:    "fullchain.pem and privkey.pem (PKCS#8 RSA)",
			srcs:    []bundle.Source{{Name: "fullchain.pem", Data: cat(leaf, inter)}, {Name: "privkey.pem", Data: rsaPKCS8}},
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "combined file, key first",
			srcs:    one("bundle.pem", rsaPKCS1, leaf, inter),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "PKCS#1 RSA PRIVATE KEY",
			srcs:    one("bundle.pem", leaf, inter, rsaPKCS1),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "PKCS#8 PRIVATE KEY holding ECDSA",
			srcs:    one("bundle.pem", ecLeaf, inter, keyPEM(t, p.leafEC.Key, testpki.PKCS8)),
			keyType: "ECDSA-P256", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "SEC1 EC PRIVATE KEY",
			srcs:    one("bundle.pem", ecLeaf, inter, keyPEM(t, p.leafEC.Key, testpki.SEC1)),
			keyType: "ECDSA-P256", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "SEC1 with an EC PARAMETERS block",
			srcs:    one("bundle.pem", keyPEM(t, p.leafEC.Key, testpki.SEC1WithParams), ecLeaf, inter),
			keyType: "ECDSA-P256", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "CRLF line endings",
			srcs:    one("bundle.pem", crlf(cat(leaf, inter, rsaPKCS8))),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "CR-only line endings",
			srcs:    one("bundle.pem", bytes.ReplaceAll(cat(leaf, inter, rsaPKCS8), []byte("\n"), []byte("\r"))),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "UTF-8 byte-order mark",
			srcs:    one("bundle.pem", bom, leaf, inter, rsaPKCS8),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "BOM and CRLF files concatenated: a BOM in the middle",
			srcs:    one("bundle.pem", bom, crlf(leaf), bom, crlf(inter), bom, rsaPKCS8),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name: "blank lines and openssl subject=/issuer= text between blocks",
			srcs: one("bundle.pem",
				[]byte("subject=CN = example.com\nissuer=CN = Test Intermediate CA 1\n\n\n"), leaf,
				[]byte("\n\n   \nsubject=CN = Test Intermediate CA 1\n"), inter, []byte("\n\n"), rsaPKCS8, []byte("\n\n")),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name: "openssl pkcs12 output with Bag Attributes",
			srcs: one("bundle.pem",
				[]byte("Bag Attributes\n    localKeyID: 01 00 00 00\n    friendlyName: example.com\nsubject=/CN=example.com\nissuer=/CN=Test Intermediate CA 1\n"), leaf,
				[]byte("Bag Attributes: <Empty Attributes>\n"), inter,
				[]byte("Bag Attributes\n    localKeyID: 01 00 00 00\nKey Attributes: <No Attributes>\n"), rsaPKCS8),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "files concatenated without a final newline",
			srcs:    one("bundle.pem", bytes.TrimSuffix(leaf, []byte("\n")), bytes.TrimSuffix(inter, []byte("\n")), rsaPKCS8),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "indented PEM (pasted from YAML)",
			srcs:    one("bundle.pem", indent(leaf), indent(inter), indent(rsaPKCS8)),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name: "acme.sh folder: <domain>.cer, <domain>.key, ca.cer, fullchain.cer",
			srcs: []bundle.Source{
				{Name: "example.com.cer", Data: ecLeaf},
				{Name: "example.com.key", Data: keyPEM(t, p.leafEC.Key, testpki.SEC1)},
				{Name: "ca.cer", Data: inter},
				{Name: "fullchain.cer", Data: cat(ecLeaf, inter)},
			},
			keyType: "ECDSA-P256", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name: "certbot live folder: cert, chain, fullchain, privkey and README at once",
			srcs: []bundle.Source{
				{Name: "README", Data: []byte("This directory contains your keys and certificates.\n")},
				{Name: "cert.pem", Data: leaf},
				{Name: "chain.pem", Data: inter},
				{Name: "fullchain.pem", Data: cat(leaf, inter)},
				{Name: "privkey.pem", Data: rsaPKCS8},
			},
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "the same key twice, in two encodings",
			srcs:    []bundle.Source{{Name: "bundle.pem", Data: cat(leaf, inter, rsaPKCS1)}, {Name: "privkey.pem", Data: rsaPKCS8}},
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1",
		},
		{
			name:    "blocks of other types are ignored with a warning",
			srcs:    one("bundle.pem", leaf, inter, rsaPKCS8, []byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n")),
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1", warnings: 1,
		},
		{
			name: "many ignored blocks make one warning per source",
			srcs: []bundle.Source{
				{Name: "a.pem", Data: cat(leaf, inter, bytes.Repeat([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"), 500))},
				{Name: "b.pem", Data: cat(rsaPKCS8, []byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))},
			},
			keyType: "RSA-2048", chain: "example.com > Test Intermediate CA 1", warnings: 2,
		},
		{
			name:    "leaf only: chain checked by Validate",
			srcs:    one("bundle.pem", leaf, rsaPKCS8),
			keyType: "RSA-2048", chain: "example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(tt.srcs, p.opts())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := b.KeyType(); got != tt.keyType {
				t.Errorf("KeyType = %s, want %s", got, tt.keyType)
			}
			if got := subjects(b.Chain()); got != tt.chain {
				t.Errorf("chain = %s, want %s", got, tt.chain)
			}
			if len(b.Warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", b.Warnings, tt.warnings)
			}
			for _, w := range b.Warnings {
				if len(w) > 300 {
					t.Errorf("warning of %d characters; it should summarise", len(w))
				}
			}
			if len(b.Sources) != len(tt.srcs) {
				t.Errorf("Sources = %q, want %d names", b.Sources, len(tt.srcs))
			}
		})
	}
}

func indent(b []byte) []byte {
	return append([]byte("    "), bytes.ReplaceAll(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"), []byte("\n    "))...)
}

// corrupt returns a PEM block whose base64 is valid but whose DER is not.
func corrupt(typ string, der []byte) []byte {
	bad := append([]byte(nil), der...)
	for i := 4; i < len(bad); i += 7 {
		bad[i] ^= 0x5a
	}
	return pemBlock(typ, bad)
}

func TestParseRejects(t *testing.T) {
	p := fixture(t)
	leaf, inter := p.leaf.PEM(), p.inter1.PEM()
	rsaPKCS8 := keyPEM(t, p.rsaKey, testpki.PKCS8)
	other := newKey(t, testpki.P256)
	otherPEM := keyPEM(t, other, testpki.PKCS8)
	ed := newKey(t, testpki.Ed25519)
	dsaPKCS8, dsaTrad, err := testpki.DSAKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := testpki.KeyDER(p.rsaKey, testpki.PKCS1)
	pkcs8DER, _ := testpki.KeyDER(p.rsaKey, testpki.PKCS8)
	truncated := rsaPKCS8[:len(rsaPKCS8)/2]
	// DER is binary: any byte pair can occur, CR LF included.
	crlfDER := issue(t, testpki.Spec{CN: "crlf\r\n.example.com"}, p.inter1)
	if !bytes.Contains(crlfDER.Cert.Raw, []byte("\r\n")) {
		t.Fatal("the test certificate has no CR LF in its DER")
	}
	badBase64 := bytes.Replace(leaf, []byte("\nMII"), []byte("\nM!I"), 1)

	tests := []struct {
		name string
		srcs []bundle.Source
		opts func(bundle.Options) bundle.Options
		want error
		// msg lists what the message must say (what is wrong, what to do).
		msg []string
	}{
		{name: "no input at all", srcs: nil, want: bundle.ErrNoCertificate, msg: []string{"no certificate", "include the certificate"}},
		{name: "only a key", srcs: one("privkey.pem", rsaPKCS8), want: bundle.ErrNoCertificate, msg: []string{"privkey.pem", "no certificate"}},
		{name: "text without any block", srcs: one("notes.txt", []byte("hello\n")), want: bundle.ErrNoCertificate, msg: []string{"notes.txt"}},
		{name: "GBK text without any block is text, not binary", srcs: one("说明.txt", []byte("\xd6\xa4\xca\xe9\r\n")), want: bundle.ErrNoCertificate, msg: []string{"说明.txt"}},
		{name: "no private key", srcs: one("fullchain.pem", leaf, inter), want: bundle.ErrNoKey, msg: []string{"no private key", "privkey.pem"}},
		{
			name: "two different keys in one file", srcs: one("bundle.pem", leaf, inter, rsaPKCS8, otherPEM),
			want: bundle.ErrMultipleKeys, msg: []string{"differs", "exactly one private key"},
		},
		{
			name: "two different keys in two files",
			srcs: []bundle.Source{{Name: "bundle.pem", Data: cat(leaf, inter, rsaPKCS8)}, {Name: "old.key", Data: otherPEM}},
			want: bundle.ErrMultipleKeys, msg: []string{"old.key", "bundle.pem"},
		},
		{
			name: "encrypted PKCS#8 key", srcs: one("bundle.pem", leaf, inter, keyPEM(t, p.rsaKey, testpki.PKCS8Encrypted)),
			want: bundle.ErrEncryptedKey, msg: []string{"encrypted", "decrypt it first"},
		},
		{
			name: "encrypted traditional RSA key (Proc-Type: 4,ENCRYPTED)", srcs: one("bundle.pem", leaf, inter, keyPEM(t, p.rsaKey, testpki.LegacyEncrypt)),
			want: bundle.ErrEncryptedKey, msg: []string{"encrypted", "decrypt it first"},
		},
		{
			name: "encrypted traditional EC key", srcs: one("bundle.pem", p.leafEC.PEM(), inter, keyPEM(t, p.leafEC.Key, testpki.LegacyEncrypt)),
			want: bundle.ErrEncryptedKey, msg: []string{"decrypt it first"},
		},
		{name: "Ed25519 key", srcs: one("bundle.pem", leaf, keyPEM(t, ed, testpki.PKCS8)), want: bundle.ErrUnsupportedKey, msg: []string{"Ed25519", "RSA", "ECDSA"}},
		{name: "DSA key in PKCS#8", srcs: one("bundle.pem", leaf, dsaPKCS8), want: bundle.ErrUnsupportedKey, msg: []string{"DSA"}},
		{name: "DSA PRIVATE KEY block", srcs: one("bundle.pem", leaf, dsaTrad), want: bundle.ErrUnsupportedKey, msg: []string{"DSA"}},
		{
			name: "OpenSSH key", srcs: one("bundle.pem", leaf, pemBlock("OPENSSH PRIVATE KEY", []byte("openssh-key-v1\x00"))),
			want: bundle.ErrUnsupportedKey, msg: []string{"OpenSSH"},
		},
		{
			name: "key that matches no certificate", srcs: one("bundle.pem", leaf, inter, otherPEM),
			want: bundle.ErrKeyMismatch, msg: []string{"ECDSA-P256", "CN=example.com", "different renewals"},
		},
		{name: "truncated key block", srcs: one("bundle.pem", leaf, inter, truncated), want: bundle.ErrMalformed, msg: []string{"cannot be decoded", "truncated"}},
		{
			name: "truncated block followed by good ones is not skipped",
			srcs: one("bundle.pem", leaf[:len(leaf)/2], []byte("\n"), leaf, inter, rsaPKCS8),
			want: bundle.ErrMalformed, msg: []string{"line 1", "CERTIFICATE", "cannot be decoded"},
		},
		{name: "bad base64", srcs: one("bundle.pem", badBase64, inter, rsaPKCS8), want: bundle.ErrMalformed, msg: []string{"line 1", "cannot be decoded"}},
		{
			name: "corrupted certificate DER", srcs: one("bundle.pem", corrupt("CERTIFICATE", p.leaf.Cert.Raw), inter, rsaPKCS8),
			want: bundle.ErrMalformed, msg: []string{"certificate at line 1 cannot be parsed", "export it again"},
		},
		{
			name: "corrupted key DER", srcs: one("bundle.pem", leaf, inter, corrupt("RSA PRIVATE KEY", rsaDER)),
			want: bundle.ErrMalformed, msg: []string{"RSA PRIVATE KEY block", "damaged"},
		},
		{
			name: "END line without BEGIN", srcs: one("bundle.pem", leaf, inter, bytes.SplitN(rsaPKCS8, []byte("\n"), 2)[1]),
			want: bundle.ErrMalformed, msg: []string{"END line (PRIVATE KEY) without its BEGIN"},
		},
		{
			name: "base64 glued to the BEGIN line is not echoed",
			srcs: one("bundle.pem", leaf, inter, bytes.Replace(rsaPKCS8, []byte("-----\n"), []byte("-----"), 1)),
			want: bundle.ErrMalformed, msg: []string{"cannot be decoded"},
		},
		{name: "DER certificate", srcs: one("cert.der", p.leaf.Cert.Raw), want: bundle.ErrMalformed, msg: []string{"cert.der", "DER", "openssl x509 -inform der"}},
		{name: "DER certificate holding CR LF bytes", srcs: one("cert.der", crlfDER.Cert.Raw), want: bundle.ErrMalformed, msg: []string{"DER (binary) certificate", "openssl x509 -inform der"}},
		{name: "DER private key", srcs: one("key.der", pkcs8DER), want: bundle.ErrMalformed, msg: []string{"DER (binary) private key", "openssl pkey -inform der"}},
		{name: "DER private key whose last byte is a newline", srcs: one("key.der", derEndingInNewline(t)), want: bundle.ErrMalformed, msg: []string{"DER (binary) private key"}},
		{name: "DER certificate with a newline appended", srcs: one("cert.der", p.leaf.Cert.Raw, []byte("\n")), want: bundle.ErrMalformed, msg: []string{"DER (binary) certificate"}},
		{name: "PKCS#12 archive", srcs: one("bundle.pfx", fakePFX(t)), want: bundle.ErrMalformed, msg: []string{"PKCS#12", "openssl pkcs12"}},
		{name: "binary archive", srcs: one("bundle.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")), want: bundle.ErrMalformed, msg: []string{"binary data"}},
		{name: "UTF-16 text", srcs: one("bundle.pem", utf16(cat(leaf, rsaPKCS8))), want: bundle.ErrMalformed, msg: []string{"UTF-16", "UTF-8"}},
		{
			name: "over the default 1 MiB cap", srcs: one("big.pem", leaf, rsaPKCS8, bytes.Repeat([]byte("#"), bundle.DefaultMaxSize)),
			want: bundle.ErrTooLarge, msg: []string{"over the 1048576-byte limit"},
		},
		{
			name: "over Options.MaxSize, counted across sources",
			srcs: []bundle.Source{{Name: "fullchain.pem", Data: cat(leaf, inter)}, {Name: "privkey.pem", Data: rsaPKCS8}},
			opts: func(o bundle.Options) bundle.Options { o.MaxSize = int64(len(leaf) + len(inter)); return o },
			want: bundle.ErrTooLarge, msg: []string{"limit", "right files"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := p.opts()
			if tt.opts != nil {
				o = tt.opts(o)
			}
			b, err := bundle.Parse(tt.srcs, o)
			if err == nil {
				t.Fatalf("Parse accepted it (leaf %q)", b.Leaf.Subject.CommonName)
			}
			checkError(t, err, tt.want, tt.msg, p.rsaKey, p.leafEC.Key, other, ed)
		})
	}
}

// checkError asserts that err is an *Error wrapping want (and no other
// sentinel), with a detail and a hint, mentioning every msg, and without
// key material.
func checkError(t *testing.T, err, want error, msg []string, keys ...crypto.Signer) {
	t.Helper()
	if leak := leaksKey(err.Error(), keys...); leak != "" {
		t.Fatalf("error message carries %s", leak) // the message itself is not printed
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q is not %v", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also matches %v", err, s)
		}
	}
	var e *bundle.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q is a %T, not a *bundle.Error", err, err)
	}
	if e.Detail == "" || e.Hint == "" {
		t.Errorf("error %q lacks a detail or a hint: %+v", err, *e)
	}
	for _, m := range msg {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

var sentinels = []error{
	bundle.ErrTooLarge, bundle.ErrMalformed, bundle.ErrNoCertificate, bundle.ErrNoKey,
	bundle.ErrMultipleKeys, bundle.ErrEncryptedKey, bundle.ErrUnsupportedKey, bundle.ErrKeyMismatch,
	bundle.ErrMissingIntermediate, bundle.ErrExpired, bundle.ErrNotYetValid, bundle.ErrUntrusted,
	bundle.ErrNoNames, bundle.ErrOverLimit,
}

func TestParseSizeCapBoundary(t *testing.T) {
	p := fixture(t)
	data := cat(p.leaf.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS8))
	for _, tt := range []struct {
		name   string
		max    int64
		tooBig bool
	}{
		{"exactly at the cap", int64(len(data)), false},
		{"one byte over", int64(len(data)) - 1, true},
		{"zero means the default", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := p.opts()
			o.MaxSize = tt.max
			_, err := bundle.Parse(one("bundle.pem", data), o)
			if got := errors.Is(err, bundle.ErrTooLarge); got != tt.tooBig {
				t.Fatalf("ErrTooLarge = %v, want %v (err %v)", got, tt.tooBig, err)
			}
			if !tt.tooBig && err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

func TestParseRSAKeySize(t *testing.T) {
	p := fixture(t)
	// Go refuses to make RSA keys under 1024 bits unless told to.
	t.Setenv("GODEBUG", "rsa1024min=0")
	tiny, err := rsa.GenerateKey(rand.Reader, 512)
	t.Setenv("GODEBUG", "")
	if err != nil {
		t.Fatal(err)
	}
	small := newKey(t, testpki.RSA1024)
	smallLeaf := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com"}, Key: small}, p.inter1)

	t.Run("512 bits is refused", func(t *testing.T) {
		_, err := bundle.Parse(one("bundle.pem", p.leaf.PEM(), keyPEM(t, tiny, testpki.PKCS1)), p.opts())
		if err == nil {
			t.Fatal("Parse accepted a 512-bit key")
		}
		checkError(t, err, bundle.ErrUnsupportedKey, []string{"512-bit RSA key", "2048 bits"}, tiny)
	})
	t.Run("1024 bits is accepted with a warning", func(t *testing.T) {
		b, err := bundle.Parse(one("bundle.pem", smallLeaf.PEM(), p.inter1.PEM(), keyPEM(t, small, testpki.PKCS8)), p.opts())
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "RSA-1024") {
			t.Errorf("warnings = %q, want one about RSA-1024", b.Warnings)
		}
	})
}

func TestParsePicksLeafByKey(t *testing.T) {
	p := fixture(t)
	older := issue(t, testpki.Spec{CN: "example.com", DNS: []string{"example.com"}, Key: p.rsaKey,
		NotBefore: testpki.DefaultNotBefore.AddDate(-1, 0, 0)}, p.inter1)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"renewal with a reused key after the old certificate", cat(older.PEM(), p.leaf.PEM(), p.inter1.PEM())},
		{"renewal with a reused key before the old certificate", cat(p.leaf.PEM(), older.PEM(), p.inter1.PEM())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bundle.Parse(one("bundle.pem", tt.data, keyPEM(t, p.rsaKey, testpki.PKCS8)), p.opts())
			if err != nil {
				t.Fatal(err)
			}
			if !b.Leaf.Equal(p.leaf.Cert) {
				t.Errorf("leaf issued %s, want the newest (%s)", b.Leaf.NotBefore, p.leaf.Cert.NotBefore)
			}
			if len(b.Extra) != 1 || !b.Extra[0].Equal(older.Cert) || len(b.Warnings) != 1 {
				t.Errorf("Extra = %d certs, warnings %q; want the old certificate set aside with a warning", len(b.Extra), b.Warnings)
			}
		})
	}
}

// derEndingInNewline returns the SEC1 DER of a fresh P-256 key that happens
// to end in a '\n' byte, so no trimming of the input may touch it.
func derEndingInNewline(t *testing.T) []byte {
	t.Helper()
	for range 5000 {
		der, err := testpki.KeyDER(newKey(t, testpki.P256), testpki.SEC1)
		if err != nil {
			t.Fatal(err)
		}
		if der[len(der)-1] == '\n' {
			return der
		}
	}
	t.Fatal("no key DER ending in a newline in 5000 tries")
	return nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// fakePFX is DER shaped like a PKCS#12 archive: version 3 and a data
// ContentInfo. Nothing in the standard library writes real ones.
func fakePFX(t *testing.T) []byte {
	t.Helper()
	inner, err := asn1.Marshal([]byte("authsafe"))
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Version  int
		AuthSafe struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"tag:0,explicit"`
		}
	}{
		Version: 3,
		AuthSafe: struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"tag:0,explicit"`
		}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, asn1.RawValue{FullBytes: inner}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// utf16 encodes ASCII text as UTF-16LE with a byte-order mark, as Windows
// Notepad's "Unicode" does.
func utf16(ascii []byte) []byte {
	out := []byte{0xFF, 0xFE}
	for _, c := range ascii {
		out = append(out, c, 0)
	}
	return out
}

// TestParseRefusesCostlyKeys: keys that make one public-key operation slow
// are refused before it is done (bounded cost): ECDSA other
// than P-256 and P-384, in a certificate or as the private key, and a
// private-key block larger than any RSA key certdrop takes.
func TestParseRefusesCostlyKeys(t *testing.T) {
	p := fixture(t)
	k521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf521 := issue(t, testpki.Spec{CN: "p521.example.com", DNS: []string{"p521.example.com"}, Key: k521}, p.inter1)
	ca521 := issue(t, testpki.Spec{CN: "P-521 CA", IsCA: true, Key: k521}, p.root)
	huge := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: bytes.Repeat([]byte{0x30}, 9<<10)})
	for _, tt := range []struct {
		name string
		srcs []bundle.Source
		msg  []string
	}{
		{"P-521 leaf", one("b.pem", leaf521.PEM(), p.inter1.PEM()), []string{"P-521", "P-256 or P-384"}},
		{"P-521 key", one("b.pem", keyPEM(t, k521, testpki.PKCS8)), []string{"P-521"}},
		{"P-521 intermediate", one("b.pem", p.leaf.PEM(), ca521.PEM(), keyPEM(t, p.rsaKey, testpki.PKCS8)), []string{`"P-521 CA"`, "P-521"}},
		{"key block larger than RSA-8192", one("b.pem", p.leaf.PEM(), huge), []string{"larger than an RSA key of 8192 bits"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.Parse(tt.srcs, p.opts())
			checkError(t, err, bundle.ErrUnsupportedKey, tt.msg, k521, p.rsaKey)
		})
	}
}

// TestDERWithNewlineWhoseSignatureEndsInNewline: a DER certificate that
// gained a trailing newline is named as DER even when its own last byte
// is a newline too (the signature is random: 1 in 64 RSA certificates end
// in a whitespace byte).
func TestDERWithNewlineWhoseSignatureEndsInNewline(t *testing.T) {
	p := fixture(t)
	var der []byte
	for range 5000 {
		c := testpki.MustIssue(testpki.Spec{CN: "nl.example.com", DNS: []string{"nl.example.com"}}, p.inter1)
		if c.Cert.Raw[len(c.Cert.Raw)-1] == '\n' {
			der = c.Cert.Raw
			break
		}
	}
	if der == nil {
		t.Skip("no certificate ending in a newline byte in 5000 tries")
	}
	_, err := bundle.Parse(one("cert.der", der, []byte("\n")), bundle.Options{})
	if !errors.Is(err, bundle.ErrMalformed) || !strings.Contains(err.Error(), "DER (binary) certificate") {
		t.Fatalf("got %v, want the DER certificate named", err)
	}
}
