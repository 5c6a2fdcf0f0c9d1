package testpki

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
)

// legacyEncrypt writes a traditional RSA or EC key encrypted the way
// `openssl rsa -aes256` does: Proc-Type and DEK-Info headers.
func legacyEncrypt(key crypto.Signer) ([]byte, error) {
	var typ string
	var der []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		typ, der = "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)
	case *ecdsa.PrivateKey:
		var err error
		typ = "EC PRIVATE KEY"
		if der, err = x509.MarshalECPrivateKey(k); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("testpki: legacy encryption needs an RSA or ECDSA key")
	}
	//lint:ignore SA1019 the tests need the deprecated format people still have.
	blk, err := x509.EncryptPEMBlock(rand.Reader, typ, der, []byte(Passphrase), x509.PEMCipherAES256) //nolint:staticcheck
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(blk), nil
}

var (
	oidPBES2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA26 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// encryptPKCS8 wraps PKCS#8 DER in an EncryptedPrivateKeyInfo with PBES2
// (PBKDF2-HMAC-SHA256, AES-256-CBC), as `openssl pkcs8 -topk8 -v2 aes256`
// writes it, so `openssl pkey -passin pass:certdrop-demo` can decrypt it.
func encryptPKCS8(der, pass []byte) ([]byte, error) {
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	const iter = 2048
	k, err := pbkdf2.Key(sha256.New, string(pass), salt, iter, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	plain := append(append([]byte(nil), der...), make([]byte, pad)...)
	for i := len(der); i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)

	type pbkdf2Params struct {
		Salt []byte
		Iter int
		PRF  pkix.AlgorithmIdentifier
	}
	kdf, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iter: iter,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA26, Parameters: asn1.NullRawValue}})
	if err != nil {
		return nil, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	params, err := asn1.Marshal(struct {
		KDF pkix.AlgorithmIdentifier
		Enc pkix.AlgorithmIdentifier
	}{
		KDF: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		Enc: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}{
		Algo: pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		Data: ct,
	})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out}), nil
}
