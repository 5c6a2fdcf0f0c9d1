// Package store reads certificate bundles from, and writes reports to, an
// object store: an Alibaba Cloud OSS bucket (through the official Go SDK,
// V4-signed) for the function, or a local directory for the command line.
// Both sit behind the same small Store interface and share its limits: a
// size cap checked before any object body is read, and typed errors
// (ErrNotFound, ErrTooLarge, ErrDenied, ...) that callers branch on with
// errors.Is and that never carry a credential.
package store

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/certdrop/certdrop/internal/credchain"
)

// DefaultMaxSize caps the size of an object Get reads, unless
// Options.MaxSize says otherwise: a certificate bundle is a few kilobytes,
// so anything over 1 MiB is refused before it is downloaded.
const DefaultMaxSize = 1 << 20

// DefaultMaxList caps how many objects List returns, unless
// Options.MaxList says otherwise, so that a mistaken prefix cannot make the
// function page through a whole bucket.
const DefaultMaxList = 10000

// Store is a flat namespace of objects under a root: a bucket and key
// prefix, or a directory. Keys are relative to the root and use "/" as
// separator.
type Store interface {
	// Get reads one object. It fails with ErrNotFound when there is none
	// and with ErrTooLarge, without reading the body, when it is larger
	// than the store's size cap. A symlink (an OSS symlink or a file
	// system symbolic link inside the root) is followed: Object.Target
	// names what it points to.
	Get(ctx context.Context, key string) (*Object, error)

	// List returns every object whose key starts with prefix, in key
	// order, following pagination to the end. It fails with ErrTooLarge
	// when there are more than the store's list cap.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)

	// Put writes data under key, replacing any object there.
	// contentType may be empty ("application/octet-stream").
	Put(ctx context.Context, key string, data []byte, contentType string) error
}

// SecretPutter is a Store that can write an object holding a secret (an
// ACME account key, a certificate's private key) with the store's
// protection for it: OSS server-side encryption (AES256), a file only its
// owner can read. Both of certdrop's stores are SecretPutters.
type SecretPutter interface {
	PutSecret(ctx context.Context, key string, data []byte, contentType string) error
}

// Deleter is a Store that can delete an object: certdrop deletes only its
// own small records with it (a rollback's pin, once lifted), never a
// bundle. Deleting a key that does not exist is not an error, as in OSS.
// Both of certdrop's stores are Deleters.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// Resizer is a Store whose size cap can be set for one reader: the
// status (status.json) is read with a cap of its own, far above a
// bundle's. Both of certdrop's stores are Resizers.
type Resizer interface {
	// WithMaxSize returns the same store with Get's size cap set to n
	// bytes; the receiver is unchanged.
	WithMaxSize(n int64) Store
}

// Presigner is a Store that can sign a URL that reads one object without
// credentials until it expires (OSS's signed URLs).
type Presigner interface {
	Presign(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// ObjectInfo describes an object as a listing shows it.
type ObjectInfo struct {
	// Key is relative to the store's root.
	Key string
	// Size is the object's size in bytes. For a symlink, OSS listings give
	// the size of the link object itself, a directory store the target's.
	Size int64
	// ETag is OSS's entity tag, without quotes; empty for a directory
	// store's listing.
	ETag string
	// LastModified is when the object was last written.
	LastModified time.Time
	// Symlink reports whether the object is a symlink.
	Symlink bool
}

// Object is an object read by Get.
type Object struct {
	ObjectInfo
	// Data is the content (of the target, for a symlink).
	Data []byte
	// ContentType is the object's media type, when the store knows it.
	ContentType string
	// Target is the key a symlink points to, relative to the root; empty
	// for a plain object, or when the target lies outside the root.
	Target string
}

// Options configures Open, OpenOSS and OpenDir. The zero value is usable:
// defaults are noted on each field.
type Options struct {
	// MaxSize caps the size of an object Get reads. Default DefaultMaxSize.
	MaxSize int64

	// MaxList caps how many objects List returns. Default DefaultMaxList.
	MaxList int

	// Getenv reads the environment: FC_REGION, FC_FUNCTION_NAME,
	// CERTDROP_OSS_ENDPOINT and the ALIBABA_CLOUD_* credentials (see
	// OpenOSS). Default os.Getenv.
	Getenv func(string) string

	// Credentials, when set, are used as they are (for instance the
	// per-invocation credentials Function Compute passes in the
	// x-fc-access-key-* headers); the environment and the default
	// credential chain are not consulted.
	Credentials *credchain.Credentials

	// Region overrides FC_REGION (OSS only).
	Region string

	// Endpoint overrides CERTDROP_OSS_ENDPOINT and the default endpoint
	// (OSS only). The same rules apply: https, or http to a loopback host.
	Endpoint string

	// HTTPClient sends the OSS requests; default the SDK's own client.
	HTTPClient *http.Client

	// ListPageSize is how many keys one ListObjects page asks for (1 to
	// 1000). Default 1000.
	ListPageSize int

	// ReadRetry is how an OSS read (Get, a List page) is tried again after
	// a transient failure (5xx, a reset connection, a timeout; see
	// Transient). By default 3 tries (DefaultRetryAttempts) of at most
	// DefaultReadAttemptTimeout each, pausing 300 ms then 600 ms, never
	// past the context's deadline; zero fields take these defaults.
	ReadRetry Retry
}

// DefaultReadAttemptTimeout bounds one try of an OSS read by default: an
// object read is at most 1 MiB (DefaultMaxSize), a listing page 1,000
// keys.
const DefaultReadAttemptTimeout = 10 * time.Second

func (o Options) readRetry() Retry {
	r := o.ReadRetry
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = DefaultReadAttemptTimeout
	}
	return r // Do defaults Attempts and Delay
}

func (o Options) maxSize() int64 {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return DefaultMaxSize
}

func (o Options) maxList() int {
	if o.MaxList > 0 {
		return o.MaxList
	}
	return DefaultMaxList
}

// validKey checks what every store requires of a key: 1 to 1023 bytes of
// UTF-8, not starting with "/" or "\" (OSS's rule).
func validKey(op, key string) error {
	switch {
	case key == "":
		return &Error{Op: op, Key: key, Err: ErrInvalidKey, Detail: "empty key"}
	case len(key) > 1023:
		return &Error{Op: op, Key: key, Err: ErrInvalidKey, Detail: "key longer than 1023 bytes"}
	case !utf8.ValidString(key):
		return &Error{Op: op, Key: key, Err: ErrInvalidKey, Detail: "key is not valid UTF-8"}
	case key[0] == '/' || key[0] == '\\':
		return &Error{Op: op, Key: key, Err: ErrInvalidKey, Detail: `key starts with "/" or "\"`}
	}
	return nil
}
