package bundle

import (
	"strings"
	"unicode/utf8"
)

// The caps below bound the work Parse, Split and Validate do on any input,
// whatever it holds, so that every object up to the size cap is accepted
// or refused in well under a second (TestWorkIsBounded counts the
// expensive steps, BenchmarkHostileInputs times them).
//
// What costs is not the bytes (decoding is linear) but public-key
// operations: parsing a private key (x509 checks its consistency: 0.15 ms
// for RSA-2048, 3 ms for RSA-8192), and checking a signature (0.05 to 0.08
// ms for RSA-2048 or P-256, 0.6 ms for P-384, 1.2 ms for RSA-8192, 2.7 ms
// for P-521, on the 2-core test machine). Those are capped by count, and the
// keys that make one of them slow are refused: RSA over maxRSABits, ECDSA
// other than P-256 and P-384. Validate adds one x509.Verify per bundle, at
// most MaxCertificates signatures each.
const (
	// MaxCertificates is the most distinct certificates one bundle may
	// hold, and so the longest chain. The APIs take a leaf and a few
	// intermediates: a certbot folder holds 2 to 4 distinct certificates
	// (cert.pem, chain.pem and fullchain.pem repeat them), the longest
	// public chain is 4 (leaf, intermediate, cross-signed root, root), and
	// 10 leaves room for a deep private PKI and a stale certificate.
	MaxCertificates = 10

	// MaxBundles is the most distinct private keys Split takes: a folder
	// of up to 32 bundles, such as lego's certificates/ folder for 32
	// domains.
	MaxBundles = 32

	// MaxSplitCertificates is the most distinct certificates Split takes:
	// a leaf per bundle and their shared intermediates, twice over.
	MaxSplitCertificates = 2 * MaxBundles

	// maxSignatureChecks is the most signatures one Parse or Split checks
	// to order chains. A signature is checked only to choose between
	// several certificates that name the same issuer (a cross-signed and
	// a self-signed version of one CA) and to tell a root, so real inputs
	// use a handful; past the budget the chain simply stops, and Validate
	// reports it.
	maxSignatureChecks = 32

	// maxIssuerChecks is the most candidates tried as the issuer of one
	// certificate: real chains have at most two (a CA and its cross-sign).
	maxIssuerChecks = 2

	// maxKeyBlocksPerKey caps the private-key blocks parsed, per distinct
	// key allowed (1 for Parse, MaxBundles for Split): the same key in two
	// encodings is real, more is not.
	maxKeyBlocksPerKey = 2

	// maxKeyDER refuses a private-key block larger than an RSA-8192 key
	// (4.8 KB of DER) before parsing it.
	maxKeyDER = 8 << 10

	// maxRSABits is the largest RSA key, private or in a certificate,
	// certdrop works with: no CA issues larger, and checking a signature
	// grows with the square of the size.
	maxRSABits = 8192
)

// Limits of the certificate APIs, applied by Validate so that a
// certificate they would refuse fails before any call. The vendor
// documents the refusals (InvalidCertificate.TooLong, "the maximum length
// of the certificate is exceeded") but not the numbers; these are
// conservative choices.
const (
	// MaxCertPEM is the longest certificate parameter (SSLPub,
	// ServerCertificate: the leaf and its intermediates as PEM) certdrop
	// sends. Undocumented; a real chain is 2 to 8 KB, and the emulator
	// (cloudsim.DefaultMaxCertificateBytes) answers TooLong above 64 KiB.
	MaxCertPEM = 64 << 10
	// MaxNames is the most DNS names a leaf may carry. Undocumented; no
	// public CA issues more than 250 (DigiCert's and Sectigo's
	// multi-domain certificates; Let's Encrypt stops at 100).
	MaxNames = 250
)

// maxEcho is the longest name (certificate name, file or object key) a
// message repeats; a longer one is shortened with "…".
const maxEcho = 100

// truncate shortens s to at most n bytes (on a rune boundary), ending it
// with "…" when it was cut, so that a hostile name cannot flood a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// shorten is truncate for paths and object keys: it keeps the start and
// the end (the file name), cutting the middle.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := (n - len("…")) / 2
	tail := len(s) - (n - len("…") - head)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + "…" + s[tail:]
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// quoteName is a certificate name fit for a message.
func quoteName(s string) string { return truncate(strings.ToValidUTF8(s, "?"), maxEcho) }
