package cloudsim

import (
	"fmt"
	"net/url"
	"sync"
)

// products lists the OpenAPI products the emulator serves, each defined
// in its own file. It is the one place a product is registered: a new
// product is a file declaring its productSpec and one line here. The
// order is the order of Sim.Env's variables and of the domains' seeding.
func products() []productSpec {
	return []productSpec{
		cdnProduct(),  // cdn.go
		vodProduct(),  // vod.go
		liveProduct(), // live.go
		dcdnProduct(), // dcdn.go
		dnsProduct(),  // alidns.go
		casProduct(),  // cas.go
		albProduct(),  // alb.go
		nlbProduct(),  // nlb.go
		clbProduct(),  // clb.go
		esaProduct(),  // esa.go
		fcProduct(),   // fc.go
		stsProduct(),  // sts.go
	}
}

// productSpec is one emulated OpenAPI product: its operations, how its
// error answers name it, and what it adds to the configuration and to
// Sim.Env.
type productSpec struct {
	// name is the product as the journal's Service, the fault rules and
	// the domain registry name it: "cdn".
	name string
	// code is the product in an error answer's Recommend link: "Cdn".
	code string
	// host is the HostId of its error answers; hostIn overrides it by the
	// CAS region of the endpoint called.
	host   string
	hostIn map[string]string
	// actions are its operations.
	actions []apiSpec
	// errors are the codes it answers beyond the gateway's
	// (gatewayErrors), with their status and message.
	errors map[string]knownError
	// messages reword codes in the product's own reference's words.
	messages map[string]string
	// env are the variables that point certdrop at the product on the
	// OpenAPI listener (Sim.Env).
	env []string
	// authorize, when set, refuses a call the credential's scope does not
	// allow, after the signature and DenyActions checks.
	authorize func(cred Credential, c *call) *apiError
	// domains is set for a product whose targets are domains that carry
	// a certificate (domaincert.go).
	domains *domainProduct
}

// handler validates and applies one operation, answering its JSON body
// (HTTP 200) or an error. It may fill the call's journal entry.
type handler func(s *Sim, c *call, p url.Values) (any, *apiError)

// apiSpec describes one emulated OpenAPI operation.
type apiSpec struct {
	action  string
	version string
	// product is the productSpec's name; the catalog fills it in.
	product string
	// quota is the default per-account calls per second.
	quota float64
	// method and path, set for an ROA-style operation, are its HTTP method
	// and resource path ("/2023-03-30/custom-domains/{domainName}"): a
	// request must use both, and the path's {variables} become parameters
	// (routeROA). An RPC operation leaves them empty.
	method, path string
	// journal, when set, fills the journal entry's fields from the
	// parameters before the call is authenticated, so that refused calls
	// and fault rules see them too.
	journal func(s *Sim, c *call, p url.Values)
	// handle answers the operation.
	handle handler
}

// catalogIndex is the registered products indexed for the gateway.
type catalogIndex struct {
	products []*productSpec
	byName   map[string]*productSpec
	// byAction holds each action's operations: one, or one per API
	// version where two products name an operation alike (ALB's and
	// NLB's UpdateListenerAttribute), told apart by the version.
	byAction map[string][]apiSpec
	// errors are the gateway's codes and every product's.
	errors map[string]knownError
}

// The catalog is built once, on first use, and only read afterwards.
var (
	catalogOnce  sync.Once
	catalogBuilt *catalogIndex
)

// catalog returns products() indexed.
func catalog() *catalogIndex {
	catalogOnce.Do(func() { catalogBuilt = buildCatalog() })
	return catalogBuilt
}

// buildCatalog indexes products(). It panics on a registration mistake
// (an action or a product registered twice, an action without handler or
// version, a code defined twice differently), which any test of the
// package finds.
func buildCatalog() *catalogIndex {
	ci := &catalogIndex{byName: map[string]*productSpec{}, byAction: map[string][]apiSpec{}, errors: gatewayErrors()}
	for _, p := range products() {
		if p.name == "" || ci.byName[p.name] != nil {
			panic(fmt.Sprintf("cloudsim: product %q registered twice or unnamed", p.name))
		}
		ci.byName[p.name] = &p
		ci.products = append(ci.products, &p)
		for i, a := range p.actions {
			dup := false
			for _, b := range ci.byAction[a.action] {
				dup = dup || b.version == a.version
			}
			if dup || a.handle == nil || a.version == "" {
				panic(fmt.Sprintf("cloudsim: action %q registered twice in one version, or without handler or version", a.action))
			}
			a.product = p.name
			p.actions[i] = a
			ci.byAction[a.action] = append(ci.byAction[a.action], a)
		}
		for code, k := range p.errors {
			if have, ok := ci.errors[code]; ok && have != k {
				panic(fmt.Sprintf("cloudsim: error code %s defined twice differently", code))
			}
			ci.errors[code] = k
		}
	}
	return ci
}

// lookupAPI finds an operation by action name (the first registered,
// where products share the name).
func lookupAPI(action string) (apiSpec, bool) {
	list := catalog().byAction[action]
	if len(list) == 0 {
		return apiSpec{}, false
	}
	return list[0], true
}

// lookupVersion finds the operation of action in version; known reports
// whether any product has the action.
func lookupVersion(action, version string) (a apiSpec, ok, known bool) {
	list := catalog().byAction[action]
	for _, a := range list {
		if a.version == version {
			return a, true, true
		}
	}
	return apiSpec{}, false, len(list) > 0
}

// lookupProduct finds a registered product by name; nil when none.
func lookupProduct(name string) *productSpec { return catalog().byName[name] }

// hostID is the HostId of the product's error answers on the endpoint of
// CAS region region.
func (p *productSpec) hostID(region string) string {
	if h, ok := p.hostIn[region]; ok {
		return h
	}
	return p.host
}

// DefaultQuotas returns the per-account calls per second the emulator
// enforces when the configuration names no quota for an API: each
// product's documented quota, or the emulator's cautious choice where the
// vendor documents none (each product's file says which).
func DefaultQuotas() map[string]float64 {
	q := map[string]float64{}
	for _, p := range catalog().products {
		for _, a := range p.actions {
			// Products sharing an action name share its entry: the lower
			// quota (each product's calls are counted on their own).
			if have, ok := q[a.action]; !ok || a.quota < have {
				q[a.action] = a.quota
			}
		}
	}
	return q
}
