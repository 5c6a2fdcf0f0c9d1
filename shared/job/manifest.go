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

// prepare loads the manifest and trusted roots once. It reports false,
// the failure recorded, when the run cannot go on.
func (inv *invocation) prepare(ctx context.Context) bool {
	if inv.manifest != nil {
		return true
	}
	if inv.out.Error != nil {
		return false
	}
	loc := inv.r.Config.manifestLocation()
	data, err := inv.load(ctx, loc)
	if err != nil {
		hint := "upload the manifest there, or point CERTDROP_MANIFEST at it"
		if !errors.Is(err, store.ErrNotFound) {
			hint = storeHint(err, "oss:GetObject on the manifest")
		}
		inv.failErr("ManifestUnreadable", fmt.Errorf("cannot read the manifest %s: %w", loc, err), hint)
		return false
	}
	m, err := manifest.Parse(loc, data, products().Catalog())
	if err != nil {
		inv.fail("ManifestInvalid", err.Error(), "fix the manifest; `certdrop plan` checks it locally")
		return false
	}
	if tr := inv.r.Config.TrustRoots; tr != "" {
		data, err := inv.load(ctx, tr)
		if err != nil {
			inv.failErr("TrustRootsUnreadable", fmt.Errorf("CERTDROP_TRUST_ROOTS %s: %w", tr, err), "")
			return false
		}
		if inv.roots, err = bundle.ParseRoots(tr, data); err != nil {
			inv.fail("TrustRootsInvalid", fmt.Sprintf("CERTDROP_TRUST_ROOTS %s: %v", tr, err), "")
			return false
		}
	}
	inv.manifest = m
	return true
}

// begin readies the run: the manifest and roots loaded, the configured
// bucket's store open. It reports false, the failure recorded, when the
// run cannot go on.
func (inv *invocation) begin(ctx context.Context) (store.Store, bool) {
	if !inv.prepare(ctx) {
		return nil, false
	}
	st, err := inv.store(ctx, inv.r.Config.Bucket)
	if err != nil {
		inv.failErr("StoreUnavailable", err, "")
		return nil, false
	}
	return st, true
}

// apiClient builds (once) the API client. It reports false, the failure
// recorded, when there is none to be had (no credentials, a refused
// endpoint).
func (inv *invocation) apiClient(ctx context.Context) (fanout.Client, bool) {
	if inv.client == nil {
		c, err := inv.r.NewClient(ctx, inv.req.Credentials)
		if err != nil {
			inv.fail("NoClient", err.Error(), "give the function a role (s.yaml role:) or set ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET; check CERTDROP_*_ENDPOINT")
			return nil, false
		}
		inv.client = c
	}
	return inv.client, true
}
