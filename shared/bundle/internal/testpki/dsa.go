package testpki

import (
	"crypto/dsa" //nolint:staticcheck // the tests need a DSA key to refuse.
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
)

// DSAKeyPEM generates a DSA key (which crypto/x509 cannot marshal) and
// writes it both as PKCS#8 "PRIVATE KEY" and as OpenSSL's traditional
// "DSA PRIVATE KEY", the way `openssl genpkey -algorithm DSA` does.
func DSAKeyPEM() (pkcs8PEM, traditionalPEM []byte, err error) {
	var k dsa.PrivateKey
	if err := dsa.GenerateParameters(&k.Parameters, rand.Reader, dsa.L1024N160); err != nil {
		return nil, nil, err
	}
	if err := dsa.GenerateKey(&k, rand.Reader); err != nil {
		return nil, nil, err
	}
	params, err := asn1.Marshal(struct{ P, Q, G *big.Int }{k.P, k.Q, k.G})
	if err != nil {
		return nil, nil, err
	}
	x, err := asn1.Marshal(k.X)
	if err != nil {
		return nil, nil, err
	}
	der, err := asn1.Marshal(struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{
		Algo: pkix.AlgorithmIdentifier{
			Algorithm:  asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1},
			Parameters: asn1.RawValue{FullBytes: params},
		},
		PrivateKey: x,
	})
	if err != nil {
		return nil, nil, err
	}
	trad, err := asn1.Marshal(struct {
		Version          int
		P, Q, G, Y, Priv *big.Int
	}{0, k.P, k.Q, k.G, k.Y, k.X})
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: trad}), nil
}
