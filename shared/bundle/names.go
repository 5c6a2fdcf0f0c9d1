package bundle

import (
	"path"
	"strings"
)

// pemSuffixes are the file name endings a bundle's parts carry: fullchain.pem,
// privkey.pem, acme.sh's example.com.cer/.key and ca.cer, a CA portal's .crt.
var pemSuffixes = []string{".pem", ".crt", ".cer", ".key"}

// IsPartName reports whether a file or object name can be part of a bundle,
// by its suffix (case-insensitive). Other files in a certificate folder
// (acme.sh's .csr and .conf, certbot's README) are not read.
func IsPartName(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, s := range pemSuffixes {
		if ext == s {
			return true
		}
	}
	return false
}

// MaxParts is the most files or objects one certificate folder may hold:
// the parts of up to MaxBundles bundles, four each (lego writes
// <domain>.crt, <domain>.issuer.crt, <domain>.key, and <domain>.pem with
// --pem). A folder with more is not a certificate folder.
const MaxParts = 4 * MaxBundles
