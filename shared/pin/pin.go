// Package pin keeps a rollback in force. A rollback (certdrop rollback, or
// the manual rollback event) writes a pin to the bucket, outside the
// watched prefix: the names of the certificate rolled back to, which one
// it is, and when and by whom. While it exists, bundles for the same names
// issued before the pin (the bad certificate the rollback undid, and
// anything older) are held back from every deployment path instead of
// undoing the rollback the next day; a bundle issued after the pin (a
// genuine renewal) lifts it, and a release lifts it explicitly.
//
// Pins are small JSON documents, read with a size cap and a count cap, and
// hold no key material: names, a certificate name, a fingerprint, CAS ids,
// times and a request id.
package pin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/store"
)

// Prefix is where pins are kept in the bucket: outside the watched prefix
// (certs/), so that writing one triggers nothing, and beside the manifest.
const Prefix = "certdrop/pins/"

// MaxSize is the largest pin read; a larger object is reported and not
// read (a pin is a few hundred bytes).
const MaxSize = 16 << 10

// MaxPins is how many pins one invocation reads; more are reported, and
// the ones after the first MaxPins (in key order) are not in force for it.
const MaxPins = 200

// Version is the pin format's version.
const Version = 1

// Pin is one rollback in force.
type Pin struct {
	Version int `json:"version"`
	// Names are the certificate's names (its SANs, else its common name),
	// lower-cased and sorted: a pin governs bundles for exactly these.
	Names []string `json:"names"`
	// CertName, Fingerprint (SHA-256, hex) and NotBefore/NotAfter identify
	// the certificate rolled back to; CAS lists its CertId per region.
	CertName    string    `json:"certName"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	NotBefore   time.Time `json:"notBefore,omitzero"`
	NotAfter    time.Time `json:"notAfter,omitzero"`
	CAS         []CASRef  `json:"cas,omitempty"`
	// At is when the rollback ran: bundles issued (NotBefore) before it
	// are held back.
	At time.Time `json:"at"`
	// Trigger and RequestID say who or what rolled back: "manual" and the
	// invocation's request id, or "cli" and the user and host.
	Trigger   string `json:"trigger"`
	RequestID string `json:"requestId,omitempty"`
}

// CASRef is the rolled-back-to certificate's id in one CAS region of one
// account.
type CASRef struct {
	// Account is the manifest's name of the account whose CAS holds it;
	// empty for the function's own.
	Account string `json:"account,omitempty"`
	Region  string `json:"region"`
	CertID  int64  `json:"certId"`
}

// Names normalizes a certificate's names: its SANs (else its common
// name), lower-cased, sorted, without duplicates.
func Names(sans []string, commonName string) []string {
	in := sans
	if len(in) == 0 && commonName != "" {
		in = []string{commonName}
	}
	out := make([]string, 0, len(in))
	for _, n := range in {
		out = append(out, strings.ToLower(strings.TrimSpace(n)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Key is the object key of the pin for names (normalized by Names):
// certdrop/pins/<first 16 bytes of the SHA-256 of the names, hex>.json.
func Key(names []string) string {
	sum := sha256.Sum256([]byte(strings.Join(names, ",")))
	return Prefix + hex.EncodeToString(sum[:16]) + ".json"
}

// Key is the object key of this pin.
func (p *Pin) Key() string { return Key(p.Names) }

// Matches reports whether a release names this pin: the certificate name
// rolled back to, or one of its names (case-insensitive).
func (p *Pin) Matches(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return false
	}
	return strings.EqualFold(p.CertName, name) || slices.Contains(p.Names, name)
}

// Verdict is what a pin means for a bundle for its names.
type Verdict int

const (
	// Free: no pin governs the bundle.
	Free Verdict = iota
	// Pinned: the bundle is the certificate rolled back to; deploying it
	// keeps the rollback.
	Pinned
	// Held: the bundle was issued before the pin; it is not deployed.
	Held
	// Lifts: the bundle was issued after the pin; it is deployed and the
	// pin deleted.
	Lifts
)

// Judge says what p (nil: none) means for a certificate with this
// fingerprint and not-before.
func (p *Pin) Judge(fingerprint string, notBefore time.Time) Verdict {
	switch {
	case p == nil:
		return Free
	case p.Fingerprint != "" && strings.EqualFold(p.Fingerprint, fingerprint):
		return Pinned
	case notBefore.After(p.At):
		return Lifts
	}
	return Held
}

// Marshal renders the pin as written.
func (p *Pin) Marshal() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }

// Parse reads a pin, strictly: unknown fields, a missing name or time, or
// a version certdrop does not know are errors.
func Parse(data []byte) (*Pin, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("pin is %d bytes, over the %d-byte cap", len(data), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Pin
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a pin: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a pin: data after the JSON document")
	}
	switch {
	case p.Version != Version:
		return nil, fmt.Errorf("pin version %d, this certdrop reads %d", p.Version, Version)
	case len(p.Names) == 0:
		return nil, errors.New("pin names no certificate names")
	case p.CertName == "":
		return nil, errors.New("pin names no certificate (certName)")
	case p.At.IsZero():
		return nil, errors.New("pin has no time (at)")
	}
	p.Names = Names(p.Names, "")
	return &p, nil
}

// Write stores p at its key, replacing any pin for the same names (a
// second rollback replaces the first).
func Write(ctx context.Context, st store.Store, p *Pin) (string, error) {
	p.Version = Version
	p.Names = Names(p.Names, "")
	if len(p.Names) == 0 {
		return "", errors.New("a pin needs the certificate's names")
	}
	data, err := p.Marshal()
	if err != nil {
		return "", err
	}
	key := p.Key()
	if err := st.Put(ctx, key, data, "application/json"); err != nil {
		return "", fmt.Errorf("writing the pin %s: %w", key, err)
	}
	return key, nil
}

// Delete removes the pin at key.
func Delete(ctx context.Context, st store.Store, key string) error {
	d, ok := st.(store.Deleter)
	if !ok {
		return fmt.Errorf("this store (%T) cannot delete the pin %s", st, key)
	}
	if err := d.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting the pin %s: %w", key, err)
	}
	return nil
}

// Problem is a pin that could not be read or is not one: it is not in
// force, and is reported.
type Problem struct {
	Key string `json:"key"`
	Err error  `json:"-"`
}

// Set is the pins in force for one invocation, by names.
type Set struct {
	byNames map[string]*Pin
}

// For returns the pin governing a certificate with these names (already
// normalized by Names), or nil.
func (s *Set) For(names []string) *Pin {
	if s == nil {
		return nil
	}
	return s.byNames[strings.Join(names, ",")]
}

// All returns the pins in force, in key order.
func (s *Set) All() []*Pin {
	if s == nil {
		return nil
	}
	out := make([]*Pin, 0, len(s.byNames))
	for _, p := range s.byNames {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Remove forgets a pin (deleted, or lifted).
func (s *Set) Remove(p *Pin) {
	if s != nil {
		delete(s.byNames, strings.Join(p.Names, ","))
	}
}

// Match splits the set for a release by name (the certificate rolled
// back to, or one of its names): the pins it matches, and a description of
// at most max of the others ("<certName> (<names>)"), for the message that
// says no pin matched.
func (s *Set) Match(name string, max int) (matched []*Pin, others []string) {
	for _, p := range s.All() {
		switch {
		case p.Matches(name):
			matched = append(matched, p)
		case len(others) < max:
			others = append(others, p.CertName+" ("+strings.Join(p.Names, ", ")+")")
		}
	}
	return matched, others
}

// NoMatch says that no pin matches name, and which pins are in force.
func NoMatch(name string, others []string) string {
	known := "no rollback is pinned"
	if len(others) > 0 {
		known = "pinned: " + strings.Join(others, "; ")
	}
	return fmt.Sprintf("no rollback pin matches %q; %s", name, known)
}

// Load reads the pins in the bucket: at most MaxPins of them, each at
// most MaxSize bytes (refused from the listing before it is read). A pin
// that cannot be read, is too large or malformed, or is filed under
// another key than its names', is a Problem and not in force; a listing
// that fails is an error (the caller decides what that means).
func Load(ctx context.Context, st store.Store) (*Set, []Problem, error) {
	infos, err := st.List(ctx, Prefix)
	if err != nil {
		return nil, nil, err
	}
	s := &Set{byNames: map[string]*Pin{}}
	var problems []Problem
	read := 0
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			problems = append(problems, Problem{Key: in.Key, Err: errors.New("not a pin (pins end in .json)")})
			continue
		}
		if read == MaxPins {
			problems = append(problems, Problem{Key: in.Key,
				Err: fmt.Errorf("more than %d pins: this and the later ones are not in force for this run; release the ones no longer needed", MaxPins)})
			continue
		}
		read++
		if in.Size > MaxSize {
			problems = append(problems, Problem{Key: in.Key, Err: fmt.Errorf("pin is %d bytes, over the %d-byte cap: not read", in.Size, MaxSize)})
			continue
		}
		obj, err := st.Get(ctx, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			problems = append(problems, Problem{Key: in.Key, Err: err})
			continue
		}
		p, err := Parse(obj.Data)
		if err != nil {
			problems = append(problems, Problem{Key: in.Key, Err: err})
			continue
		}
		if p.Key() != in.Key {
			problems = append(problems, Problem{Key: in.Key, Err: fmt.Errorf("pin for %s filed under another key than %s", strings.Join(p.Names, ", "), p.Key())})
			continue
		}
		s.byNames[strings.Join(p.Names, ",")] = p
	}
	return s, problems, nil
}
