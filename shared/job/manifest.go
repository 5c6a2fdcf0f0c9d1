package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/store"
)

// manifestLocation is where the manifest is read: CERTDROP_MANIFEST, else
// DefaultManifestKey in CERTDROP_BUCKET. Never from an event.
func (c *Config) manifestLocation() string {
	if c.Manifest != "" {
		return c.Manifest
	}
	return "oss://" + c.Bucket + "/" + DefaultManifestKey
}

// prepare loads the manifest and trusted roots once; its error is the
// run's failure.
func (s *session) prepare(ctx context.Context) error {
	if s.manifest != nil {
		return nil
	}
	loc := s.r.Config.manifestLocation()
	data, err := s.load(ctx, loc)
	if err != nil {
		hint := "upload the manifest there, or point CERTDROP_MANIFEST at it"
		if !errors.Is(err, store.ErrNotFound) {
			hint = storeHint(err, "oss:GetObject on the manifest")
		}
		return failErr("ManifestUnreadable", fmt.Errorf("cannot read the manifest %s: %w", loc, err), hint)
	}
	m, err := manifest.Parse(loc, data, products().Catalog())
	if err != nil {
		return fail("ManifestInvalid", err.Error(), "fix the manifest; `certdrop plan` checks it locally")
	}
	if tr := s.r.Config.TrustRoots; tr != "" {
		data, err := s.load(ctx, tr)
		if err != nil {
			return failErr("TrustRootsUnreadable", fmt.Errorf("CERTDROP_TRUST_ROOTS %s: %w", tr, err), "")
		}
		if s.roots, err = bundle.ParseRoots(tr, data); err != nil {
			return fail("TrustRootsInvalid", fmt.Sprintf("CERTDROP_TRUST_ROOTS %s: %v", tr, err), "")
		}
	}
	s.manifest = m
	s.run.noteManifest(m)
	return nil
}

// begin readies the run: the manifest and roots loaded, the configured
// bucket's store open. Its error is the run's failure.
func (s *session) begin(ctx context.Context) (store.Store, error) {
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	st, err := s.store(ctx, s.r.Config.Bucket)
	if err != nil {
		return nil, failErr("StoreUnavailable", err, "")
	}
	return st, nil
}

// apiClient builds (once) the API client. Its error, the run's failure,
// says there is none to be had (no credentials, a refused endpoint).
func (s *session) apiClient(ctx context.Context) (fanout.Client, error) {
	if s.client == nil {
		c, err := s.r.NewClient(ctx, s.req.Credentials)
		if err != nil {
			return nil, fail("NoClient", err.Error(), "give the function a role (s.yaml role:) or set ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET; check CERTDROP_*_ENDPOINT")
		}
		s.client = c
	}
	return s.client, nil
}
