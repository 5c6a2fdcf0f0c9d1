package cloudsimtest

import (
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
)

// Bundle issues a certificate for names (valid 90 days) under a throwaway
// root and intermediate, and parses it as certdrop does. It returns the
// bundle and the leaf's key PEM as issued, for a test to register both
// as secrets.
func Bundle(tb testing.TB, names ...string) (*bundle.Bundle, []byte) {
	tb.Helper()
	now := time.Now()
	root, err := cloudsim.NewRootCA("test root", now.Add(-48*time.Hour), now.AddDate(2, 0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	inter, err := root.Intermediate("test intermediate", now.Add(-48*time.Hour), now.AddDate(2, 0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := inter.Issue(cloudsim.LeafRequest{DNSNames: names, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 90)})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := bundle.Parse([]bundle.Source{
		{Name: "fullchain.pem", Data: append(append([]byte{}, leaf.CertPEM...), inter.CertPEM()...)},
		{Name: "privkey.pem", Data: leaf.KeyPEM},
	}, bundle.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return b, leaf.KeyPEM
}
