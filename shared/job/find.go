package job

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/store"
)

// located is the bundle parts directly in one folder, as read from the
// store, or (part, of) the ones among them that one bundle or one refusal
// concerns.
type located struct {
	// Unit names the folder ("certs/example.com/").
	Unit    string
	Keys    []string
	Sources []bundle.Source
	// Modified is the newest last-modified time of the parts: how long a
	// bundle has waited for its other half counts from it.
	Modified time.Time
}

// add appends one part read from the store.
func (l *located) add(obj *store.Object) {
	l.Keys = append(l.Keys, obj.Key)
	l.Sources = append(l.Sources, bundle.Source{Name: obj.Key, Data: obj.Data})
	if obj.LastModified.After(l.Modified) {
		l.Modified = obj.LastModified
	}
}

// part is the located folder narrowed to one of its parts, for a refusal
// that blames that part.
func (l *located) part(key string) *located {
	if key == "" {
		return l
	}
	return &located{Unit: l.Unit, Keys: []string{key}, Modified: l.Modified}
}

// of is the located folder narrowed to the files that formed one bundle:
// what the report names as the bundle's keys.
func (l *located) of(b *bundle.Bundle) *located {
	return &located{Unit: l.Unit, Keys: b.Sources, Modified: l.Modified}
}

// folderOf returns the folder prefix of a key ("" at the bucket's root).
func folderOf(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// ErrFolderTooLarge is wrapped by the error of a folder whose bundle parts
// are too many (over bundle.MaxParts) or too large together (over
// bundle.DefaultMaxSize): it is refused from its listing, unread, so that
// memory stays bounded whatever a folder holds.
var ErrFolderTooLarge = errors.New("folder too large")

// folderParts keeps, of a listing, the bundle parts directly in folder,
// sorted, and refuses a folder over the part or size limit.
func folderParts(infos []store.ObjectInfo, folder string) ([]string, error) {
	var keys []string
	var size int64
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, folder)
		if strings.Contains(rest, "/") || !bundle.IsPartName(in.Key) {
			continue
		}
		keys = append(keys, in.Key)
		size += in.Size
	}
	if len(keys) > bundle.MaxParts {
		return nil, fmt.Errorf("%w: %q holds %d certificate objects, more than the %d a bundle folder may hold",
			ErrFolderTooLarge, shortKey(folder), len(keys), bundle.MaxParts)
	}
	if size > bundle.DefaultMaxSize {
		return nil, fmt.Errorf("%w: the certificate objects in %q hold %d bytes together, more than the %d one folder may hold",
			ErrFolderTooLarge, shortKey(folder), size, bundle.DefaultMaxSize)
	}
	sort.Strings(keys)
	return keys, nil
}

// readParts reads the bundle parts directly in a folder, from its listing.
func readParts(ctx context.Context, st store.Store, folder string, infos []store.ObjectInfo) (*located, error) {
	keys, err := folderParts(infos, folder)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no .pem, .crt, .cer or .key objects directly in %q", shortKey(folder))
	}
	loc := &located{Unit: folder}
	var size int64
	for _, k := range keys {
		obj, err := st.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		// Objects rewritten since the listing count as they are now.
		if size += int64(len(obj.Data)); size > bundle.DefaultMaxSize {
			return nil, fmt.Errorf("%w: the certificate objects in %q hold more than the %d bytes one folder may hold",
				ErrFolderTooLarge, shortKey(folder), bundle.DefaultMaxSize)
		}
		loc.add(obj)
	}
	return loc, nil
}
