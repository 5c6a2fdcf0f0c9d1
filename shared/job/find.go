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

// located is one bundle found in a store: a self-contained object, or the
// parts directly in one folder.
type located struct {
	// Unit names the bundle: the object key of a self-contained bundle, or
	// the folder prefix ("certs/example.com/").
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

// folderOf returns the folder prefix of a key ("" at the bucket's root).
func folderOf(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// selfContained reports whether one object holds a whole bundle: a
// certificate and the key that matches it.
func selfContained(obj *store.Object) bool {
	_, err := bundle.Parse([]bundle.Source{{Name: obj.Key, Data: obj.Data}}, bundle.Options{})
	return err == nil
}

// locate finds the bundle an object belongs to: the object itself when it
// holds both certificate and key, else the bundle parts directly in its
// folder (at most bundle.MaxParts objects, each within the store's cap).
// have holds objects already read, by key, so none is read twice.
func locate(ctx context.Context, st store.Store, obj *store.Object, have map[string]*store.Object) (*located, error) {
	if selfContained(obj) {
		loc := &located{Unit: obj.Key}
		loc.add(obj)
		return loc, nil
	}
	return locateFolder(ctx, st, folderOf(obj.Key), have)
}

// locateFolder reads the bundle parts directly in a folder.
func locateFolder(ctx context.Context, st store.Store, folder string, have map[string]*store.Object) (*located, error) {
	infos, err := st.List(ctx, folder)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", folder, err)
	}
	var keys []string
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, folder)
		if strings.Contains(rest, "/") || !bundle.IsPartName(in.Key) {
			continue
		}
		keys = append(keys, in.Key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no .pem, .crt, .cer or .key objects directly in %q", folder)
	}
	if len(keys) > bundle.MaxParts {
		return nil, fmt.Errorf("%q holds %d certificate objects, more than the %d a bundle folder may hold: keep one certificate per folder",
			folder, len(keys), bundle.MaxParts)
	}
	sort.Strings(keys)
	loc := &located{Unit: folder}
	for _, k := range keys {
		obj := have[k]
		if obj == nil {
			if obj, err = st.Get(ctx, k); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue // deleted since the listing
				}
				return nil, err
			}
			have[k] = obj
		}
		loc.add(obj)
	}
	return loc, nil
}

// getAny reads the first of the candidate keys that exists.
func getAny(ctx context.Context, st store.Store, candidates []string) (*store.Object, error) {
	var first error
	for _, k := range candidates {
		obj, err := st.Get(ctx, k)
		if err == nil {
			return obj, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}
