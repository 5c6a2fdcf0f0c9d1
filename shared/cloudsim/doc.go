// Package cloudsim is certdrop's local cloud emulator. It answers the
// Alibaba Cloud APIs certdrop calls the way the real services do
// (signatures, quotas, error codes and shapes, injected faults), so that
// the tests and `certdrop sim` run the real clients end to end on
// loopback, and it journals every call so that a test can check what
// crossed the wire.
//
// # Listeners
//
// A Sim (New, Start, Close) binds loopback only:
//
//   - the OpenAPI listener: every registered product, routed by action
//     (x-acs-action or Action), Certificate Management Service as its
//     cn-hangzhou endpoint;
//   - a second OpenAPI listener that answers Certificate Management
//     Service in ap-southeast-1 only;
//   - OSS (oss*.go): objects, bucket custom domains with their
//     certificates (oss_cname.go) and upload triggers (oss_notify.go);
//   - when configured, an authoritative DNS server over the Alibaba Cloud
//     DNS zones (dns_server.go) and an ACME CA (acme.go, pebble) that
//     validates through it.
//
// Sim.Env returns the environment that points certdrop at them.
//
// # Products
//
// Each OpenAPI product is one file: its Product* constant, whose doc is
// the product's API as emulated (operations, parameters, answers, error
// codes, quotas, the vendor's sources), its productSpec (its actions and
// their handlers, its error codes, its endpoint variable), its handlers
// and its state. products() (openapi_products.go) registers them. The
// products whose targets are domains carrying a certificate share their
// Set and Describe operations (domaincert.go) and the domain registry
// (openapi_state.go); each states what its reference documents (setSpec,
// domainProduct).
//
// The machinery every product shares has its own files: the request's
// path through the gateway and the order of its checks
// (openapi_handler.go), the V3 signature (openapi_sign.go), the
// per-account quotas (openapi_quota.go), the injected faults
// (openapi_faults.go), the error answers and the gateway's codes
// (openapi_errors.go), the journal (journal.go) and the configuration
// (config.go).
//
// # Accounts
//
// Config.Credentials, Domains and Quotas are one account's, AccountID.
// Config.Accounts adds others, each with its own domains, quotas and RAM
// roles; STS AssumeRole (sts.go) gives credentials for a role whose trust
// policy names the caller, and a call signed with them acts in the role's
// account alone: its registry, its quotas, its attempt counts (the
// account's Sim, Sim.Account), journaled with the account's ID.
//
// # Adding a product
//
// A new OpenAPI product is a file that declares its Product* constant and
// its productSpec, and one line in products(). What its targets are is
// configured by a field of Config (for a product whose targets are
// domains, a field of Domains that its domainProduct selects).
//
// # Tests
//
// Package cloudsimtest starts a Sim for one test and stops it when the
// test ends.
package cloudsim
