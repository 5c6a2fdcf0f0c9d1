package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
)

func TestKeyLines(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	want := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	want = want[1 : len(want)-1]
	inJSON, _ := json.Marshal(map[string]string{"key": string(keyPEM)})

	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"a PEM key", keyPEM, want},
		{"a key after a certificate", append(append([]byte{}, certPEM...), keyPEM...), want},
		{"a key escaped in JSON", inJSON, want},
		{"a certificate alone", certPEM, nil},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := KeyLines(tt.data)
			// The last line of a base64 block may be shorter than 16.
			var full []string
			for _, l := range tt.want {
				if len(l) >= 16 {
					full = append(full, l)
				}
			}
			if !slices.Equal(got, full) {
				t.Errorf("KeyLines = %q, want %q", got, full)
			}
		})
	}
}
