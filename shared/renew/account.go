package renew

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/store"
)

// storedAccount is an ACME account as kept in the bucket: one object per
// CA directory and contact address, holding the account's private key.
// It is written server-side encrypted and never logged.
type storedAccount struct {
	Directory string   `json:"directory"`
	Location  string   `json:"location"`
	Contact   []string `json:"contact,omitempty"`
	// KeyPEM is the account key, PKCS#8.
	KeyPEM string `json:"key"`
}

// accountKey is where the account for a directory and e-mail is kept:
// <state prefix>accounts/<CA host>-<hash>.json.
func accountKey(prefix, directory, email string) string {
	h := sha256.Sum256([]byte(directory + "\n" + strings.ToLower(email)))
	host := "ca"
	if u, err := url.Parse(directory); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return prefix + "accounts/" + host + "-" + hex.EncodeToString(h[:8]) + ".json"
}

// account returns the ACME account for c's CA and e-mail: the one kept in
// the bucket, else (or when fresh: the CA no longer knows the kept one) a
// new one registered now, with the external account binding the manifest
// names when it names one, and kept.
func (e *Engine) account(ctx context.Context, client *acmez.Client, c manifest.Certificate, fresh bool) (acme.Account, error) {
	key := accountKey(e.statePrefix, c.Directory, c.Email)
	mu := e.lockFor(key)
	mu.Lock()
	defer mu.Unlock()

	o, err := e.opts.Store.Get(ctx, key)
	if fresh && err == nil {
		err = store.ErrNotFound
	}
	switch {
	case err == nil:
		var sa storedAccount
		if err := json.Unmarshal(o.Data, &sa); err != nil {
			return acme.Account{}, fmt.Errorf("the account kept at %s is damaged (not JSON)", key)
		}
		signer, err := parseAccountKey(sa.KeyPEM)
		if err != nil || sa.Location == "" {
			return acme.Account{}, fmt.Errorf("the account kept at %s is damaged (no usable key or location)", key)
		}
		return acme.Account{Status: acme.StatusValid, Location: sa.Location, Contact: sa.Contact, PrivateKey: signer}, nil
	case !errors.Is(err, store.ErrNotFound):
		return acme.Account{}, fmt.Errorf("reading the ACME account: %w", err)
	}

	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return acme.Account{}, err
	}
	acct := acme.Account{TermsOfServiceAgreed: true, PrivateKey: priv}
	if c.Email != "" {
		acct.Contact = []string{"mailto:" + c.Email}
	}
	if c.EAB != nil {
		if err := checkSecretVars(c); err != nil {
			return acme.Account{}, err
		}
		kid, mac := e.getenv(c.EAB.KeyIDEnv), e.getenv(c.EAB.MACKeyEnv)
		if kid == "" || mac == "" {
			return acme.Account{}, fmt.Errorf("%w: set %s and %s (the CA's EAB key ID and HMAC key)", ErrEABMissing, c.EAB.KeyIDEnv, c.EAB.MACKeyEnv)
		}
		e.addSecret(mac)
		if err := acct.SetExternalAccountBinding(ctx, client.Client, acme.EAB{KeyID: kid, MACKey: mac}); err != nil {
			return acme.Account{}, fmt.Errorf("external account binding from %s/%s: %w", c.EAB.KeyIDEnv, c.EAB.MACKeyEnv, err)
		}
	}
	acct, err = client.NewAccount(ctx, acct)
	if err != nil {
		return acme.Account{}, fmt.Errorf("registering an ACME account at %s: %w", c.Directory, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return acme.Account{}, err
	}
	sa := storedAccount{Directory: c.Directory, Location: acct.Location, Contact: acct.Contact,
		KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}
	data, err := json.MarshalIndent(sa, "", "  ")
	if err != nil {
		return acme.Account{}, err
	}
	if err := e.putSecret(ctx, key, data, "application/json"); err != nil {
		return acme.Account{}, fmt.Errorf("keeping the new ACME account at %s: %w", key, err)
	}
	e.log.Info("acme account registered", "directory", c.Directory, "account", acct.Location, "kept", key)
	return acct, nil
}

func parseAccountKey(s string) (crypto.Signer, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return nil, errors.New("no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("not a PKCS#8 key")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return signer, nil
}
