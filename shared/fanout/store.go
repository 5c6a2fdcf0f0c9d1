package fanout

import "time"

// StoreCert is a certificate a product keeps in a store of its own
// (CLB's server certificates), as a prune judged it.
type StoreCert struct {
	// Product names the store's product ("clb"); Region its region.
	Product, Region string
	// Name and ID identify the certificate in the store.
	Name, ID string
	NotAfter time.Time
	// Reason says why it was (or would be) deleted, or kept.
	Reason string
	// Err is why its deletion failed.
	Err error
}

// StorePrune is what a prune of the products' own stores did (or, in a
// dry run, would do): Deleted, Kept, Failed deletions, and Problems that
// kept it from seeing a store whole (that store left alone).
type StorePrune struct {
	Deleted, Kept, Failed []StoreCert
	Problems              []error
}
