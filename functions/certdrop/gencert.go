package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

func runGencert(_ context.Context, c *cli, args []string) int {
	fs := newFlagSet("gencert", "--out DIR --domain D... [--days N] [--rsa BITS]",
		"Issues a throwaway demo CA (root.pem, kept in DIR) and a certificate signed by it, written\n"+
			"as certbot lays them out (fullchain.pem, privkey.pem), to try certdrop without a real\n"+
			"certificate. Pass DIR/root.pem as --trust-roots. Never deploy these to production.", c.stderr)
	out := fs.String("out", "", "folder to write root.pem, fullchain.pem and privkey.pem into")
	var domains multiFlag
	fs.Var(&domains, "domain", "a DNS name for the certificate (repeatable)")
	days := fs.Int("days", 90, "validity of the certificate in days")
	rsaBits := fs.Int("rsa", 0, "issue an RSA key of this size instead of ECDSA P-256")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if *out == "" || len(domains) == 0 || *days <= 0 {
		return usageError(c, "gencert", "--out and at least one --domain are required, --days must be positive")
	}
	if err := gencert(*out, domains, *days, *rsaBits, time.Now()); err != nil {
		fmt.Fprintf(c.stderr, "certdrop gencert: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, "wrote %s, %s and %s (valid %d days)\n",
		filepath.Join(*out, "root.pem"), filepath.Join(*out, "fullchain.pem"), filepath.Join(*out, "privkey.pem"), *days)
	return exitOK
}

// gencert writes a demo root, and a leaf with its intermediate, into dir.
// An existing root.pem's CA cannot be reused (its key is not kept), so each
// run makes a new CA.
func gencert(dir string, domains []string, days, rsaBits int, now time.Time) error {
	start := now.Add(-time.Hour)
	root, err := cloudsim.NewRootCA("certdrop demo root", start, start.AddDate(10, 0, 0))
	if err != nil {
		return err
	}
	inter, err := root.Intermediate("certdrop demo intermediate", start, start.AddDate(5, 0, 0))
	if err != nil {
		return err
	}
	leaf, err := inter.Issue(cloudsim.LeafRequest{
		DNSNames: domains, NotBefore: start, NotAfter: now.AddDate(0, 0, days), RSABits: rsaBits,
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"root.pem", root.CertPEM(), 0o644},
		{"fullchain.pem", append(append([]byte{}, leaf.CertPEM...), inter.CertPEM()...), 0o644},
		{"privkey.pem", leaf.KeyPEM, 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
