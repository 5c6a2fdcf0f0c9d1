package bundle

import "testing"

func TestIsPartName(t *testing.T) {
	for name, want := range map[string]bool{
		"fullchain.pem": true, "privkey.PEM": true, "example.com.cer": true, "example.com.key": true,
		"ca.cer": true, "example.com.crt": true, "certs/x/cert.pem": true,
		"example.com.csr": false, "example.com.conf": false, "README": false, "manifest.yaml": false,
		"fullchain.pem.bak": false, ".pem/readme": false,
	} {
		if got := IsPartName(name); got != want {
			t.Errorf("IsPartName(%q) = %v, want %v", name, got, want)
		}
	}
}
