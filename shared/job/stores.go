package job

import (
	"context"
	"os"
	"strings"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/store"
)

// store opens (once per run) the store of a bucket, with the
// request's credentials.
func (s *session) store(ctx context.Context, bucket string) (store.Store, error) {
	if st, ok := s.stores[bucket]; ok {
		return st, nil
	}
	st, err := s.r.OpenStore(ctx, bucket, s.req.Credentials)
	if err != nil {
		return nil, err
	}
	s.stores[bucket] = st
	return st, nil
}

// load reads an oss:// object or a local file (a path in the code
// package). Only configuration names what it reads.
func (s *session) load(ctx context.Context, location string) ([]byte, error) {
	if !strings.HasPrefix(location, "oss://") {
		return os.ReadFile(location)
	}
	bucket, key, err := event.ParseOSSURL(location)
	if err != nil {
		return nil, err
	}
	st, err := s.store(ctx, bucket)
	if err != nil {
		return nil, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return obj.Data, nil
}
