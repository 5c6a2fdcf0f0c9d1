// Command gentestdata writes the static bundles of testdata/bundles: one
// folder per layout or failure, all issued by a fixed demo CA (a root, an
// intermediate, and a second intermediate below it) whose root it writes to
// demo-root.pem. Run it from the module root:
//
//	go run ./shared/bundle/internal/gentestdata -out testdata/bundles
//
// Every run makes new keys, so the whole folder is rewritten at once; the
// tests assert outcomes, never fingerprints. The keys are throwaway demo
// keys: committing them is intended.
package main

import (
	"bytes"
	"crypto"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/certdrop/certdrop/shared/bundle/internal/testpki"
)

func main() {
	out := flag.String("out", "testdata/bundles", "folder to write the bundles to")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

// ca is the demo CA: the root is long-lived so the committed bundles never
// rot; leaves are valid 2025-01-01 to 2045-01-01 except the expired case.
type ca struct {
	root, inter, inter2 *testpki.Cert
}

var (
	caFrom = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	caTo   = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newCA() (*ca, error) {
	rootKey, err := testpki.NewKey(testpki.RSA2048)
	if err != nil {
		return nil, err
	}
	root, err := testpki.Issue(testpki.Spec{CN: "certdrop Demo Root CA", IsCA: true, Key: rootKey, NotBefore: caFrom, NotAfter: caTo}, nil)
	if err != nil {
		return nil, err
	}
	inter, err := testpki.Issue(testpki.Spec{CN: "certdrop Demo Intermediate CA", IsCA: true, NotBefore: caFrom, NotAfter: caTo}, root)
	if err != nil {
		return nil, err
	}
	inter2, err := testpki.Issue(testpki.Spec{CN: "certdrop Demo Issuing CA 2", IsCA: true, NotBefore: caFrom, NotAfter: caTo}, inter)
	if err != nil {
		return nil, err
	}
	return &ca{root: root, inter: inter, inter2: inter2}, nil
}

// leaf issues an end-entity certificate under the intermediate.
func (c *ca) leaf(kind testpki.KeyKind, dns ...string) (*testpki.Cert, error) {
	return c.leafSpec(kind, testpki.Spec{DNS: dns}, c.inter)
}

func (c *ca) leafSpec(kind testpki.KeyKind, s testpki.Spec, parent *testpki.Cert) (*testpki.Cert, error) {
	key, err := testpki.NewKey(kind)
	if err != nil {
		return nil, err
	}
	s.Key = key
	if s.CN == "" {
		s.CN = s.DNS[0]
	}
	return testpki.Issue(s, parent)
}

// files maps a path inside a case's folder (subfolders allowed) to its
// content; a content made by symlink() is written as a symbolic link.
type files map[string][]byte

const linkMark = "\x00symlink:"

// symlink marks a file as a symbolic link to target (relative to the
// link's folder), as certbot's live/<name>/ files are.
func symlink(target string) []byte { return []byte(linkMark + target) }

func run(out string) error {
	c, err := newCA()
	if err != nil {
		return err
	}
	cases := map[string]func() (files, error){
		"crlf": func() (files, error) {
			l, err := c.leaf(testpki.RSA2048, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			data := cat(l.PEM(), c.inter.PEM(), key(l.Key, testpki.PKCS8))
			return files{"bundle.pem": bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))}, nil
		},
		"bom": func() (files, error) {
			l, err := c.leaf(testpki.P256, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			return files{"bundle.pem": cat([]byte("\xEF\xBB\xBF"), l.PEM(), c.inter.PEM(), key(l.Key, testpki.PKCS8))}, nil
		},
		"reversed-chain": func() (files, error) {
			l, err := c.leafSpec(testpki.RSA2048, testpki.Spec{DNS: []string{"example.com", "www.example.com"}}, c.inter2)
			if err != nil {
				return nil, err
			}
			return files{
				"fullchain.pem": cat(c.root.PEM(), c.inter.PEM(), c.inter2.PEM(), l.PEM()),
				"privkey.pem":   key(l.Key, testpki.PKCS8),
			}, nil
		},
		"key-first": func() (files, error) {
			l, err := c.leaf(testpki.RSA2048, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			return files{"bundle.pem": cat(key(l.Key, testpki.PKCS1), l.PEM(), c.inter.PEM())}, nil
		},
		"pkcs1":            fullchainPrivkey(c, testpki.RSA2048, testpki.PKCS1),
		"pkcs8":            fullchainPrivkey(c, testpki.RSA2048, testpki.PKCS8),
		"sec1":             fullchainPrivkey(c, testpki.P256, testpki.SEC1WithParams),
		"ed25519":          fullchainPrivkey(c, testpki.Ed25519, testpki.PKCS8),
		"encrypted-key":    fullchainPrivkey(c, testpki.RSA2048, testpki.PKCS8Encrypted),
		"encrypted-legacy": fullchainPrivkey(c, testpki.RSA2048, testpki.LegacyEncrypt),
		"mismatched": func() (files, error) {
			l, err := c.leaf(testpki.RSA2048, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			other, err := testpki.NewKey(testpki.RSA2048)
			if err != nil {
				return nil, err
			}
			return files{"fullchain.pem": cat(l.PEM(), c.inter.PEM()), "privkey.pem": key(other, testpki.PKCS8)}, nil
		},
		"expired": func() (files, error) {
			l, err := c.leafSpec(testpki.RSA2048, testpki.Spec{
				DNS:       []string{"example.com", "www.example.com"},
				NotBefore: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:  time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
			}, c.inter)
			if err != nil {
				return nil, err
			}
			return files{"fullchain.pem": cat(l.PEM(), c.inter.PEM()), "privkey.pem": key(l.Key, testpki.PKCS8)}, nil
		},
		"wildcard": func() (files, error) {
			l, err := c.leafSpec(testpki.P256, testpki.Spec{CN: "*.example.com", DNS: []string{"*.example.com", "example.com"}}, c.inter)
			if err != nil {
				return nil, err
			}
			return files{"fullchain.pem": cat(l.PEM(), c.inter.PEM()), "privkey.pem": key(l.Key, testpki.PKCS8)}, nil
		},
		"acme.sh": func() (files, error) {
			l, err := c.leaf(testpki.P256, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			return files{
				"example.com.cer": l.PEM(),
				"example.com.key": key(l.Key, testpki.SEC1),
				"ca.cer":          c.inter.PEM(),
				"fullchain.cer":   cat(l.PEM(), c.inter.PEM()),
			}, nil
		},
		"certbot": func() (files, error) {
			l, err := c.leaf(testpki.P256, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			return files{
				"cert.pem":      l.PEM(),
				"chain.pem":     c.inter.PEM(),
				"fullchain.pem": cat(l.PEM(), c.inter.PEM()),
				"privkey.pem":   key(l.Key, testpki.PKCS8),
				"README":        []byte(certbotReadme),
			}, nil
		},
		"certbot-live": func() (files, error) {
			// certbot's configuration directory: live/<name>/ holds
			// relative links into ../../archive/<name>/.
			l, err := c.leaf(testpki.P256, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			fs := files{"live/example.com/README": []byte(certbotReadme)}
			for base, data := range map[string][]byte{
				"cert": l.PEM(), "chain": c.inter.PEM(), "fullchain": cat(l.PEM(), c.inter.PEM()), "privkey": key(l.Key, testpki.PKCS8),
			} {
				fs["archive/example.com/"+base+"1.pem"] = data
				fs["live/example.com/"+base+".pem"] = symlink("../../archive/example.com/" + base + "1.pem")
			}
			return fs, nil
		},
		"lego": func() (files, error) {
			// lego's certificates/ folder for two domains, RSA and ECDSA.
			fs := files{}
			for _, d := range []struct {
				name string
				kind testpki.KeyKind
				f    testpki.KeyFormat
			}{{"example.com", testpki.P256, testpki.SEC1}, {"example.org", testpki.RSA2048, testpki.PKCS1}} {
				l, err := c.leaf(d.kind, d.name, "www."+d.name)
				if err != nil {
					return nil, err
				}
				fs[d.name+".crt"] = cat(l.PEM(), c.inter.PEM())
				fs[d.name+".issuer.crt"] = c.inter.PEM()
				fs[d.name+".key"] = key(l.Key, d.f)
				fs[d.name+".json"] = []byte(fmt.Sprintf("{\n  \"domain\": %q,\n  \"certUrl\": \"https://acme.example/cert/1\"\n}\n", d.name))
			}
			return fs, nil
		},
		"openssl-text": func() (files, error) {
			l, err := c.leaf(testpki.RSA2048, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			data := cat(
				[]byte("Bag Attributes\n    localKeyID: 4C 1F 2B 9A 00 11\n    friendlyName: example.com\n"),
				[]byte("subject=CN = example.com, O = certdrop demo\n\nissuer=CN = certdrop Demo Intermediate CA, O = certdrop demo\n\n"),
				l.PEM(),
				[]byte("\nBag Attributes: <Empty Attributes>\nsubject=CN = certdrop Demo Intermediate CA, O = certdrop demo\n\nissuer=CN = certdrop Demo Root CA, O = certdrop demo\n\n"),
				c.inter.PEM(),
				[]byte("Bag Attributes\n    localKeyID: 4C 1F 2B 9A 00 11\nKey Attributes: <No Attributes>\n"),
				key(l.Key, testpki.PKCS8),
			)
			return files{"bundle.pem": data}, nil
		},
		"missing-intermediate": func() (files, error) {
			l, err := c.leaf(testpki.RSA2048, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			return files{"cert.pem": l.PEM(), "privkey.pem": key(l.Key, testpki.PKCS8)}, nil
		},
		"truncated": func() (files, error) {
			l, err := c.leaf(testpki.RSA2048, "example.com", "www.example.com")
			if err != nil {
				return nil, err
			}
			chain := cat(l.PEM(), c.inter.PEM())
			return files{
				"fullchain.pem": chain[:len(chain)-200], // the intermediate's END line is gone
				"privkey.pem":   key(l.Key, testpki.PKCS8),
			}, nil
		},
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "demo-root.pem"), c.root.PEM(), 0o644); err != nil {
		return err
	}
	for name, mk := range cases {
		fs, err := mk()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		dir := filepath.Join(out, name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for f, data := range fs {
			path := filepath.Join(dir, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if target, ok := bytes.CutPrefix(data, []byte(linkMark)); ok {
				if err := os.Symlink(string(target), path); err != nil {
					return err
				}
				continue
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func fullchainPrivkey(c *ca, kind testpki.KeyKind, f testpki.KeyFormat) func() (files, error) {
	return func() (files, error) {
		l, err := c.leaf(kind, "example.com", "www.example.com")
		if err != nil {
			return nil, err
		}
		return files{"fullchain.pem": cat(l.PEM(), c.inter.PEM()), "privkey.pem": key(l.Key, f)}, nil
	}
}

func key(k crypto.Signer, f testpki.KeyFormat) []byte { return testpki.MustKeyPEM(k, f) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

const certbotReadme = `This directory contains your keys and certificates.

privkey.pem   : the private key for your certificate.
fullchain.pem : the certificate file used in most server software.
chain.pem     : used for OCSP stapling in Nginx >=1.3.7.
cert.pem      : will break many server configurations, and should not be used
                without reading further documentation.

(A demo copy of the note certbot leaves in /etc/letsencrypt/live/<name>/.)
`
