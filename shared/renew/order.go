package renew

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// orderOutcome is what one order attempt left.
type orderOutcome struct {
	// ordered: the CA accepted a new order (it counts against the daily
	// limit), at orderedAt.
	ordered   bool
	orderedAt time.Time
	// retryAfter is the CA's Retry-After, when it refused.
	retryAfter time.Time
	// challenges counts the challenge records written: none, and the CA
	// validated nothing.
	challenges int
	// leftBehind names records that could not be removed.
	leftBehind []string
	// leaf and key describe what was written, on success.
	leaf *x509.Certificate
	key  string
}

// order obtains a new certificate for c and writes its bundle.
func (e *Engine) order(ctx context.Context, cl *certClient, c manifest.Certificate, replaces *x509.Certificate, log *slog.Logger) (out orderOutcome, err error) {
	defer func() { out.ordered, out.orderedAt, out.retryAfter = cl.rec.outcome() }()

	provider, err := e.opts.Providers(ctx, c)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %w", ErrNoProvider, c.DNS.Provider, err)
	}
	solver := &dnsSolver{provider: provider, dns: e.dns, // ttl 0: the provider's default (alidns: 600 s, the least the free edition takes)
		propagation: e.opts.PropagationTimeout, poll: e.opts.PollInterval, cleanup: e.opts.CleanupTimeout, log: log}
	// The CA is asked nothing until the provider has shown that it can
	// write every challenge name's record.
	if err := solver.preflight(ctx, c.Domains); err != nil {
		out.leftBehind = solver.leftover()
		return out, err
	}
	dir, err := cl.GetDirectory(ctx)
	if err != nil {
		return out, fmt.Errorf("reading the ACME directory %s: %w", c.Directory, err)
	}
	cl.rec.setNewOrderURL(dir.NewOrder)
	acct, err := e.account(ctx, cl.Client, c, false)
	if err != nil {
		return out, classify(err)
	}
	key, err := newKey(c.KeyType)
	if err != nil {
		return out, err
	}
	csr, err := acmez.NewCSR(key, c.Domains)
	if err != nil {
		return out, fmt.Errorf("building the CSR: %w", err)
	}
	params, err := acmez.OrderParametersFromCSR(acct, csr)
	if err != nil {
		return out, fmt.Errorf("building the order: %w", err)
	}
	params.Profile = c.Profile
	params.Replaces = replaces

	cl.ChallengeSolvers = map[string]acmez.Solver{acme.ChallengeTypeDNS01: solver}
	chains, err := cl.ObtainCertificate(ctx, params)
	var p acme.Problem
	if errors.As(err, &p) && p.Type == acme.ProblemTypeAccountDoesNotExist {
		// The CA no longer knows the kept account (deactivated, or the CA's
		// database was reset): register a new one, once, and order again.
		log.Warn("the CA does not know the kept ACME account; registering a new one", "problem", p.Detail)
		if params.Account, err = e.account(ctx, cl.Client, c, true); err != nil {
			solver.cleanupAll(ctx)
			out.leftBehind, out.challenges = solver.leftover(), solver.challengesWritten()
			return out, classify(err)
		}
		chains, err = cl.ObtainCertificate(ctx, params)
	}
	// Whatever the ACME client did, no record outlives the order.
	solver.cleanupAll(ctx)
	out.leftBehind, out.challenges = solver.leftover(), solver.challengesWritten()
	if err != nil {
		return out, classify(err)
	}
	if len(chains) == 0 {
		return out, errors.New("the CA issued no certificate chain")
	}

	// The bundle is what the OSS trigger will read: parse it the same way
	// (one key matching the leaf, the chain ordered). Validity and trust
	// are the trigger's to check, with its roots.
	keyPEM, err := marshalKey(key)
	if err != nil {
		return out, err
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "issued", Data: append(slices.Clone(chains[0].ChainPEM), keyPEM...)}}, bundle.Options{})
	if err != nil {
		return out, fmt.Errorf("the issued certificate does not make a bundle: %w", err)
	}
	if got, want := certNames(b.Leaf), sortedCopy(c.Domains); !slices.Equal(got, want) {
		return out, fmt.Errorf("the CA issued a certificate for %s, not %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	data := b.CertPEM() + b.KeyPEM().Reveal()
	objKey := e.BundleKey(c.Name)
	// The bundle is written even past the deadline: the certificate is
	// issued, and losing it would cost another order.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.CleanupTimeout)
	defer cancel()
	if err := e.putSecret(wctx, objKey, []byte(data), "application/x-pem-file"); err != nil {
		return out, fmt.Errorf("writing %s: %w", objKey, err)
	}
	out.leaf, out.key = b.Leaf, objKey
	return out, nil
}

// classify wraps the CA's rate-limit refusal in ErrRateLimited.
func classify(err error) error {
	var p acme.Problem
	if errors.As(err, &p) && p.Type == acme.ProblemTypeRateLimited {
		return fmt.Errorf("%w: %w", ErrRateLimited, err)
	}
	return err
}

// newKey generates a certificate key of type t.
func newKey(t manifest.KeyType) (crypto.Signer, error) {
	switch t {
	case manifest.EC384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case manifest.RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case manifest.RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case manifest.RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case manifest.EC256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("unknown key type %q", t)
}

// marshalKey encodes a key as PKCS#8 PEM, for bundle.Parse (which writes
// it out again in the form the APIs take).
func marshalKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
