package event

import (
	"fmt"
	"strings"
)

// ManualEvent re-runs one bundle:
// {"bundle":"oss://bucket/certs/example.com/","dryRun":true,"force":false}.
type ManualEvent struct {
	// Bundle is an oss:// URL of a bundle folder (ending in /) or object.
	Bundle string `json:"bundle"`
	DryRun bool   `json:"dryRun"`
	// Force sets targets that already carry this or a newer certificate.
	Force bool `json:"force"`
}

// BundleLocation splits Bundle into bucket and key (or folder prefix).
func (m ManualEvent) BundleLocation() (bucket, key string, err error) {
	return ParseOSSURL(m.Bundle)
}

func parseManual(body []byte) (*ManualEvent, error) {
	var m ManualEvent
	if err := strictDecode(body, &m, "bundle", "dryRun", "force"); err != nil {
		return nil, fmt.Errorf("%w: manual invocation: %v; %s", ErrUnrecognized, err, expected)
	}
	if _, _, err := m.BundleLocation(); err != nil {
		return nil, fmt.Errorf("%w: manual invocation: %v", ErrUnrecognized, err)
	}
	return &m, nil
}

// ParseOSSURL splits "oss://bucket/key" into its bucket and key; the key
// may be empty (the whole bucket) or end in "/" (a folder).
func ParseOSSURL(u string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(u, "oss://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an oss://bucket/key URL", u)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", u)
	}
	return bucket, key, nil
}
