package job

import (
	"context"
	"os"
	"strings"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/store"
)

// store opens (once per invocation) the store of a bucket, with the
// invocation's credentials.
func (inv *invocation) store(ctx context.Context, bucket string) (store.Store, error) {
	if st, ok := inv.stores[bucket]; ok {
		return st, nil
	}
	st, err := inv.r.OpenStore(ctx, bucket, inv.req.Credentials)
	if err != nil {
		return nil, err
	}
	inv.stores[bucket] = st
	return st, nil
}

// load reads an oss:// object or a local file (a path in the code
// package). Only configuration names what it reads.
func (inv *invocation) load(ctx context.Context, location string) ([]byte, error) {
	if !strings.HasPrefix(location, "oss://") {
		return os.ReadFile(location)
	}
	bucket, key, err := event.ParseOSSURL(location)
	if err != nil {
		return nil, err
	}
	st, err := inv.store(ctx, bucket)
	if err != nil {
		return nil, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return obj.Data, nil
}
