package bundle

import "errors"

// Sentinel errors for the ways a bundle can be rejected. Every error returned
// by Parse, Validate and ParseRoots wraps exactly one of them, so callers branch with
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
)

// Error is a rejected bundle: Err is one of the sentinels above, Source names
// the input (file or object key) when one is to blame, and Detail and Hint say
// what is wrong and what to do about it.
type Error struct {
	Err    error
	Source string
	Detail string
	Hint   string
}

// Error renders "source: detail (hint)"; it never includes key material.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Err.Error()
	}
	if e.Source != "" {
		msg = e.Source + ": " + msg
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

func newError(sentinel error, source, detail, hint string) *Error {
	return &Error{Err: sentinel, Source: source, Detail: detail, Hint: hint}
}
