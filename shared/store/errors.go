package store

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error a store returns for an object wraps one of
// them or a context error, so callers branch with errors.Is; the message
// (from *Error) says what happened. None ever contains a credential.
var (
	// ErrNotFound: the object (or bucket, or symlink target) does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrTooLarge: the object is over the size cap, or the listing over
	// the list cap.
	ErrTooLarge = errors.New("too large")
	// ErrDenied: the store refused the credentials (unknown AccessKey,
	// bad signature, expired or invalid token) or the permission.
	ErrDenied = errors.New("access denied")
	// ErrInvalidKey: the key is not one the store accepts (empty, too
	// long, not UTF-8, absolute, or escaping a directory store's root).
	ErrInvalidKey = errors.New("invalid key")
	// ErrConfig: the store cannot be opened or used as configured (bad
	// URL, missing region, refused endpoint, no credentials available).
	ErrConfig = errors.New("invalid store configuration")
	// ErrNoRegion: no OSS region is configured, nor named by the
	// endpoint; it comes with ErrConfig, so that a command line can name
	// its own way to give one (certdrop's --region).
	ErrNoRegion = errors.New("no OSS region")
)

// Error is a failed store operation.
type Error struct {
	// Op is "open", "get", "list", "put" or "delete".
	Op string
	// Key is the object key (for list, the prefix), relative to the root.
	Key string
	// Code and RequestID are OSS's error code and request ID, when OSS
	// answered.
	Code      string
	RequestID string
	// Detail says what went wrong, for a person.
	Detail string
	// Err is the sentinel (or context error) callers branch on.
	Err error
	// cause is the underlying error, kept for errors.As and errors.Is.
	cause error
	// status is OSS's HTTP status, when OSS answered (see Transient).
	status int
}

// Error renders `store: get "key": detail (OSS Code, request ID): sentinel`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("store: ")
	b.WriteString(e.Op)
	if e.Key != "" {
		fmt.Fprintf(&b, " %q", e.Key)
	}
	b.WriteString(": ")
	if e.Detail != "" {
		b.WriteString(e.Detail)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (OSS %s", e.Code)
		if e.RequestID != "" {
			fmt.Fprintf(&b, ", request ID %s", e.RequestID)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		if e.Detail != "" || e.Code != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.cause}
}
