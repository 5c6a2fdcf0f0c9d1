// Package product says what a product is: the one interface every
// Alibaba Cloud product certdrop sets certificates on implements (one
// package each, below this one), and the Registry that holds the products
// of a run. The packages below certdrop's products in the data flow take
// what they need of a product as a value: the manifest a
// manifest.Catalog, the planner a plan.Products, the fan-out a
// fanout.Client (Client here). Only the top of the program (the function,
// the CLI, tests) builds a Registry, through shared/product/all.
//
// A target is whatever its product addresses (a domain; a listener, a load
// balancer's port, a site) plus the names the certificate must cover: the
// product's manifest.Spec says which fields a target takes and checks
// them; its plan.Planner turns a target into calls; Set and Describe make
// those calls, each through the fan-out's Caller, which paces every API at
// its quota and retries it, so that a product owns its whole sequence
// (one call, or add, wait and remove) while the pacing stays the
// fan-out's.
package product

import (
	"context"
	"fmt"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// Product is one Alibaba Cloud product certdrop sets certificates on.
type Product interface {
	// Spec is what the manifest knows of the product: its name, the
	// target fields it takes and their checks.
	Spec() manifest.Spec
	// APIs are every operation the product calls, with its quota: what a
	// RAM policy must grant, what CERTDROP_QUOTAS may tune.
	APIs() []plan.API
	// EndpointVar names the environment variable that overrides the
	// product's endpoint (CERTDROP_CDN_ENDPOINT).
	EndpointVar() string
	// Planner plans the calls of the product's targets.
	plan.Planner
	// Set installs the call's certificate on its target through tr,
	// making every API call through calls.
	Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error
	// Describe reads what the call's target carries now through tr,
	// making every API call through calls.
	Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error)
}

// Pruner is a Product that keeps certificates in stores of its own
// besides Certificate Management Service (an ESA site's list of
// certificates; CLB's server certificates, per region) and prunes
// certdrop's own there: the prune timer asks it through Client.Prune
// (fanout.Pruner), with the calls of the manifest's targets of the
// product. A product whose certificates live in Certificate Management
// Service only does not implement it.
type Pruner interface {
	// Prune prunes the stores targets use through tr, making every API
	// call through calls: certdrop's certificates that have expired or
	// are superseded, never one certdrop did not put there, never one in
	// use. A store that cannot be read whole is among the Problems and
	// left alone.
	Prune(ctx context.Context, tr *cloud.Client, targets []plan.Call, calls fanout.Caller, o fanout.PruneOptions) fanout.StorePrune
}

// Registry holds the products of a run, in the order reports and plans
// list them. It is built once and never changed.
type Registry struct {
	list []Product
}

// New returns a registry of products. Two products of one name are a
// programming error: New panics.
func New(products ...Product) *Registry {
	r := &Registry{}
	for _, p := range products {
		if _, dup := r.Get(p.Spec().Name); dup {
			panic(fmt.Sprintf("product: %s is registered twice", p.Spec().Name))
		}
		r.list = append(r.list, p)
	}
	return r
}

// Products returns the products, in order.
func (r *Registry) Products() []Product { return append([]Product(nil), r.list...) }

// Get returns the named product.
func (r *Registry) Get(name manifest.Product) (Product, bool) {
	for _, p := range r.list {
		if p.Spec().Name == name {
			return p, true
		}
	}
	return nil, false
}

// Names lists the product names, in order.
func (r *Registry) Names() []manifest.Product {
	out := make([]manifest.Product, len(r.list))
	for i, p := range r.list {
		out[i] = p.Spec().Name
	}
	return out
}

// Catalog returns the products' manifest specs, for manifest.Parse.
func (r *Registry) Catalog() manifest.Catalog {
	out := make(manifest.Catalog, len(r.list))
	for i, p := range r.list {
		out[i] = p.Spec()
	}
	return out
}

// Planner returns the named product's planner: Registry is a
// plan.Products.
func (r *Registry) Planner(name manifest.Product) (plan.Planner, bool) {
	p, ok := r.Get(name)
	return p, ok
}

// EndpointVars lists the products' endpoint override variables, each
// once, for cloud.Options.EndpointVars.
func (r *Registry) EndpointVars() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range r.list {
		if v := p.EndpointVar(); v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// NewClient builds a transport (cloud.New) that checks the products'
// endpoint overrides, and the Client that deploys through it.
func (r *Registry) NewClient(opts cloud.Options) (*Client, error) {
	opts.EndpointVars = append(append([]string(nil), opts.EndpointVars...), r.EndpointVars()...)
	tr, err := cloud.New(opts)
	if err != nil {
		return nil, err
	}
	return r.Client(tr), nil
}

// Client returns the Client that deploys the registry's products through
// tr.
func (r *Registry) Client(tr *cloud.Client) *Client { return &Client{reg: r, tr: tr} }

// Client deploys to the registry's products through one transport: it is
// the fan-out's fanout.Client (each call to its target's product),
// fanout.CASClient (the transport's Certificate Management Service calls)
// and the DNS provider's caller (Call). It is safe for concurrent use.
type Client struct {
	reg *Registry
	tr  *cloud.Client
}

var (
	_ fanout.Client      = (*Client)(nil)
	_ fanout.CASClient   = (*Client)(nil)
	_ fanout.Pruner      = (*Client)(nil)
	_ fanout.RoleAssumer = (*Client)(nil)
)

// AssumeRole returns the Client that deploys the same products in the
// account of the RAM role roleArn, through a transport signing with the
// role's temporary credentials (cloud.Client.AssumeRole: obtained from
// STS with this client's credentials, renewed before they expire). A
// role that cannot be assumed is a *cloud.RoleError.
func (c *Client) AssumeRole(ctx context.Context, roleArn string) (fanout.Client, error) {
	tr, err := c.tr.AssumeRole(ctx, roleArn)
	if err != nil {
		return nil, err
	}
	return &Client{reg: c.reg, tr: tr}, nil
}

// Transport returns the client's transport.
func (c *Client) Transport() *cloud.Client { return c.tr }

// Registry returns the client's products.
func (c *Client) Registry() *Registry { return c.reg }

// product returns the product of a call's target.
func (c *Client) product(call plan.Call) (Product, error) {
	p, ok := c.reg.Get(call.Target.Product)
	if !ok {
		return nil, cloud.Errorf(call.API.Action, call.DomainName, "unknown product %q", call.Target.Product)
	}
	return p, nil
}

// Set installs the call's certificate as its target's product does.
func (c *Client) Set(ctx context.Context, call plan.Call, calls fanout.Caller) error {
	p, err := c.product(call)
	if err != nil {
		return err
	}
	return p.Set(ctx, c.tr, call, calls)
}

// Describe reads what the call's target carries as its product does.
func (c *Client) Describe(ctx context.Context, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	p, err := c.product(call)
	if err != nil {
		return fanout.Installed{}, err
	}
	return p.Describe(ctx, c.tr, call, calls)
}

// Prune prunes the stores of the targets whose products keep certificates
// of their own (Pruner), each product once with its targets, in the
// registry's order.
func (c *Client) Prune(ctx context.Context, targets []plan.Call, calls fanout.Caller, o fanout.PruneOptions) fanout.StorePrune {
	var out fanout.StorePrune
	for _, p := range c.reg.list {
		pr, ok := p.(Pruner)
		if !ok {
			continue
		}
		var mine []plan.Call
		for _, t := range targets {
			if t.Target.Product == p.Spec().Name {
				mine = append(mine, t)
			}
		}
		if len(mine) == 0 {
			continue
		}
		r := pr.Prune(ctx, c.tr, mine, calls, o)
		out.Certs, out.Problems = append(out.Certs, r.Certs...), append(out.Problems, r.Problems...)
	}
	return out
}

// Call makes one OpenAPI call of a service certdrop has no product for
// (Alibaba Cloud DNS) through the transport (cloud.Client.Call): the
// client is an alidns.Caller.
func (c *Client) Call(ctx context.Context, r cloud.Request) (map[string]any, error) {
	return c.tr.Call(ctx, r)
}

// UploadCAS uploads a certificate and its key to Certificate Management
// Service (cloud.Client.UploadCAS).
func (c *Client) UploadCAS(ctx context.Context, region, name, certPEM string, key bundle.Secret) (int64, string, error) {
	return c.tr.UploadCAS(ctx, region, name, certPEM, key)
}

// ListCAS lists uploaded certificates (cloud.Client.ListCAS).
func (c *Client) ListCAS(ctx context.Context, region, keyword string, expired bool) ([]fanout.CASCert, error) {
	return c.tr.ListCAS(ctx, region, keyword, expired)
}

// DeleteCAS deletes a certificate (cloud.Client.DeleteCAS).
func (c *Client) DeleteCAS(ctx context.Context, region string, id int64) error {
	return c.tr.DeleteCAS(ctx, region, id)
}

// Once is a fanout.Caller that makes each call once, unpaced and without
// retrying: for a single call outside a run (a probe, a test).
type Once struct{}

// Call makes the call once and returns its error.
func (Once) Call(_ context.Context, _ plan.API, send func() (string, error)) error {
	_, err := send()
	return err
}
