package store

import (
	"context"
	"net/url"
	"strings"
)

// Open returns the store a location names:
//
//   - "oss://bucket" or "oss://bucket/prefix": an OSS bucket, rooted at the
//     prefix (a folder: "oss://b/certs" and "oss://b/certs/" are the same).
//     The prefix may be percent-encoded; "?" and "#" must be.
//     See OpenOSS for endpoint, region and credentials.
//   - "file:///abs/dir" (or "file://localhost/abs/dir"): a local directory.
//   - anything without "://": a local directory path, relative or absolute.
//
// Any other scheme is refused with ErrConfig.
func Open(ctx context.Context, location string, opts Options) (Store, error) {
	scheme, _, ok := strings.Cut(location, "://")
	if !ok {
		if location == "" {
			return nil, &Error{Op: "open", Err: ErrConfig, Detail: "empty store location"}
		}
		return OpenDir(location, opts)
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, &Error{Op: "open", Err: ErrConfig, Detail: "invalid store URL"}
	}
	bad := func(detail string) error {
		return &Error{Op: "open", Key: location, Err: ErrConfig, Detail: detail}
	}
	if u.User != nil {
		return nil, &Error{Op: "open", Err: ErrConfig, Detail: "store URL must not contain user information"}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, bad(`store URL must not have a query or fragment (percent-encode "?" and "#")`)
	}
	switch strings.ToLower(scheme) {
	case "oss":
		return OpenOSS(ctx, u.Host, strings.TrimPrefix(u.Path, "/"), opts)
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, bad("file URL must name a local path: file:///path")
		}
		if u.Path == "" {
			return nil, bad("file URL has no path")
		}
		return OpenDir(u.Path, opts)
	}
	return nil, bad(`unsupported store URL scheme (use oss://, file:// or a path)`)
}
