//go:build !fc

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
	fs := newFlagSet("gencert", "--out DIR --domain D... [--root FILE] [--days N] [--rsa BITS]",
		"Issues a throwaway demo CA and a certificate signed by it, written as certbot lays them\n"+
			"out (DIR/fullchain.pem, DIR/privkey.pem), to try certdrop without a real certificate.\n"+
			"The CA's root goes beside DIR (not in it: it is not part of the bundle); pass it as\n"+
			"--trust-roots. Never deploy these to production.", c)
	out := fs.String("out", "", "the folder (`DIR`) to write fullchain.pem and privkey.pem into")
	rootPath := fs.String("root", "", "the `FILE` to write the demo root to (default: demo-root.pem beside DIR)")
	var domains multiFlag
	fs.Var(&domains, "domain", "a DNS name `D` for the certificate (repeatable)")
	days := fs.Int("days", 90, "the certificate's validity: `N` days")
	rsaBits := fs.Int("rsa", 0, "issue an RSA key of `BITS` bits instead of ECDSA P-256")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if *out == "" || len(domains) == 0 || *days <= 0 {
		return usageError(c, "gencert", "--out and at least one --domain are required, --days must be positive")
	}
	if *rootPath == "" {
		*rootPath = filepath.Join(filepath.Dir(filepath.Clean(*out)), "demo-root.pem")
	}
	if err := gencert(*out, *rootPath, domains, *days, *rsaBits, time.Now()); err != nil {
		fmt.Fprintf(c.stderr, "certdrop gencert: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, "wrote %s and %s (valid %d days), trusted root %s\n",
		filepath.Join(*out, "fullchain.pem"), filepath.Join(*out, "privkey.pem"), *days, *rootPath)
	return exitOK
}

// gencert writes a leaf with its intermediate, and its key, into dir, and
// the demo root to rootPath. The CA's keys are not kept, so each run makes
// a new CA.
func gencert(dir, rootPath string, domains []string, days, rsaBits int, now time.Time) error {
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
		path string
		data []byte
		mode os.FileMode
	}{
		{rootPath, root.CertPEM(), 0o644},
		{filepath.Join(dir, "fullchain.pem"), append(append([]byte{}, leaf.CertPEM...), inter.CertPEM()...), 0o644},
		{filepath.Join(dir, "privkey.pem"), leaf.KeyPEM, 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
