package bundle

import (
	"fmt"
	"log/slog"
)

// Redacted is what a Secret prints as, wherever it is formatted, logged or
// marshalled.
const Redacted = "<redacted>"

// Secret holds private-key PEM. It formats, logs and marshals as "<redacted>",
// so that a key cannot leak through fmt, log/slog or encoding/json by
// accident; Reveal is the one way to read it, for the request body that must
// carry it.
type Secret struct{ s string }

// Reveal returns the secret's content. Call it only to put the key into an
// API request body.
func (s Secret) Reveal() string { return s.s }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.s == "" }

// String returns Redacted.
func (s Secret) String() string { return Redacted }

// GoString returns Redacted, for %#v.
func (s Secret) GoString() string { return Redacted }

// Format prints Redacted for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue returns Redacted for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON returns Redacted as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns Redacted.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
