package bundle

import "errors"

// Sentinel errors for the ways a bundle can be rejected. Every error returned
// by Parse, Split, Validate and ParseRoots wraps exactly one of them, so callers branch with
// errors.Is while the message (from *Error) tells a person what to do.
// No error ever contains key material.
var (
	ErrTooLarge            = errors.New("bundle too large")
	ErrMalformed           = errors.New("malformed PEM or DER")
	ErrNoCertificate       = errors.New("no certificate")
	ErrNoKey               = errors.New("no private key")
	ErrMultipleKeys        = errors.New("more than one private key")
	ErrEncryptedKey        = errors.New("encrypted private key")
	ErrUnsupportedKey      = errors.New("unsupported key type")
	ErrKeyMismatch         = errors.New("private key matches no certificate")
	ErrMissingIntermediate = errors.New("missing intermediate certificate")
	ErrExpired             = errors.New("certificate expired")
	ErrNotYetValid         = errors.New("certificate not yet valid")
	ErrUntrusted           = errors.New("certificate chain does not verify")
	// ErrNoNames: the leaf names no DNS subject alternative name, so it
	// covers no domain (its subject CN does not count, for Go and for
	// browsers).
	ErrNoNames = errors.New("certificate names no DNS name")
	// ErrOverLimit: the certificate is over what the certificate APIs
	// take (MaxCertPEM bytes, MaxNames names), refused before any call.
	ErrOverLimit = errors.New("certificate over the APIs' limits")
)

// ErrIncomplete classifies, it is not one of the sentinels above: an
// *Error whose Incomplete is set matches it with errors.Is. It marks a
// bundle that the arrival of another file may still complete (half a pair,
// a leaf whose intermediate has not arrived), as opposed to one that is
// broken whatever arrives (a file holding a key and a certificate that do
// not match, a malformed block, an expired certificate). Callers that read
// bundles as their files arrive wait on the first and fail the second.
var ErrIncomplete = errors.New("bundle incomplete")

// Error is a rejected bundle: Err is one of the sentinels above, Source names
// the input (file or object key) when one is to blame, and Detail and Hint say
// what is wrong and what to do about it.
type Error struct {
	Err    error
	Source string
	Detail string
	Hint   string
	// Incomplete is set when another file may still complete the bundle:
	// see ErrIncomplete.
	Incomplete bool
	// waitedBy names the other sources that wait with Source (see
	// Folder.Of).
	waitedBy []string
}

// Error renders "source: detail (hint)"; it never includes key material.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Err.Error()
	}
	if e.Source != "" {
		msg = shorten(e.Source, maxSourceEcho) + ": " + msg
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// Is makes an incomplete bundle's error match ErrIncomplete.
func (e *Error) Is(target error) bool { return target == ErrIncomplete && e.Incomplete }

// IsIncomplete reports whether err is a bundle error that the arrival of
// another file may still resolve (see ErrIncomplete).
func IsIncomplete(err error) bool { return errors.Is(err, ErrIncomplete) }

// maxSourceEcho is the longest source name (path, object key) a message
// repeats whole: a longer one keeps its start and its file name.
const maxSourceEcho = 160

func newError(sentinel error, source, detail, hint string) *Error {
	return &Error{Err: sentinel, Source: source, Detail: detail, Hint: hint}
}
