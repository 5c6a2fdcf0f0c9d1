package fanout

import (
	"context"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

// Pruner is a Client whose products may keep certificates in stores of
// their own besides Certificate Management Service (an ESA site's list of
// certificates, CLB's server certificates of a region) and prune
// certdrop's own there. The prune timer (hub.Prune) asks it once, with
// the calls of every manifest target, besides pruning Certificate
// Management Service.
type Pruner interface {
	// Prune prunes the stores the targets of targets use, making every
	// API call through calls: with o.Delete it deletes, else it only says
	// what it would delete. Targets whose product keeps no store of its
	// own are passed over.
	Prune(ctx context.Context, targets []plan.Call, calls Caller, o PruneOptions) StorePrune
}

// PruneOptions tune a prune of the products' stores.
type PruneOptions struct {
	// Delete deletes; without it the prune only says what it would
	// delete.
	Delete bool
	// Keep is how many of certdrop's newest certificates for the same
	// names a store keeps besides those in use, where the product keeps
	// more than the newest (CLB's server certificates); at least 1
	// (hub.Prune passes its own). An ESA site, whose plan allows a few
	// certificates, keeps only certdrop's newest.
	Keep int
	// Now is the time expiry is judged at; zero: the current time.
	Now time.Time
}

// StorePrune is what a prune of the products' stores did, or in a dry
// run would do.
type StorePrune struct {
	// Certs are the certificates looked at, each with its verdict.
	Certs []StoreCert
	// Problems are the stores that could not be read whole; nothing in
	// them was touched.
	Problems []StoreProblem
}

// StoreCert is one certificate in a product's own store, as a prune
// judged it.
type StoreCert struct {
	// Store names the store: "esa example.com" (an ESA site's
	// certificates), "clb cn-hangzhou" (CLB's server certificates of a
	// region).
	Store string
	// ID and Name are the certificate's in the store.
	ID, Name string
	NotAfter time.Time
	// Reason says why it is (or would be) deleted, or kept.
	Reason string
	// Delete is true for a certificate to delete; Err is the deletion's
	// failure, if it was tried and failed.
	Delete bool
	Err    error
}

// StoreProblem is a store a prune could not read whole: Err says why.
type StoreProblem struct {
	Store string
	Err   error
}
