package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// CAValidity is how long a new CA certificate is valid.
const CAValidity = 10 * 365 * 24 * time.Hour

// backdate is subtracted from NotBefore so that a peer whose clock is a little behind accepts a
// certificate issued just now.
const backdate = time.Hour

// CA is a certificate authority: its certificate and the key that signs with it.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte // Cert, PEM-encoded: what clients put in certificate-authority-data
	Key     crypto.Signer
}

// LoadOrCreateCA returns the CA stored in certFile and keyFile. When neither file exists it creates
// a new ECDSA P-256 CA valid for CAValidity from now, writes it (the key readable by its owner
// only) and reports created. It never replaces an existing CA: a half-present, unreadable,
// mismatched or expired one is an error, because every client that trusts it would break.
func LoadOrCreateCA(certFile, keyFile string, now time.Time) (ca *CA, created bool, err error) {
	certExists, keyExists := exists(certFile), exists(keyFile)
	switch {
	case certExists && keyExists:
		ca, err := loadCA(certFile, keyFile, now)
		return ca, false, err
	case certExists:
		return nil, false, fmt.Errorf("pki: CA certificate %s exists but its key %s does not", certFile, keyFile)
	case keyExists:
		return nil, false, fmt.Errorf("pki: CA key %s exists but its certificate %s does not", keyFile, certFile)
	}

	ca, keyPEM, err := newCA(now)
	if err != nil {
		return nil, false, err
	}
	// Key first: a crash between the two writes leaves a key without a certificate, which the
	// next start reports instead of silently pairing a new certificate with an old key.
	if err := writeFileAtomic(keyFile, keyPEM, modePrivate); err != nil {
		return nil, false, err
	}
	if err := writeFileAtomic(certFile, ca.CertPEM, modePublic); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

func newCA(now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("skiff-ca@%d", now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: parse new CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return &CA{Cert: cert, CertPEM: encodeCert(der), Key: key}, keyPEM, nil
}

func loadCA(certFile, keyFile string, now time.Time) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA certificate: %w", err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key %s: %w", keyFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", certFile)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("pki: CA key %s does not match certificate %s", keyFile, certFile)
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("pki: CA certificate %s expired at %s", certFile, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return &CA{Cert: cert, CertPEM: certPEM, Key: key}, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: generate serial number: %w", err)
	}
	return serial, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCert returns the first certificate in data.
func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// parseKey reads a PKCS#8 or SEC 1 private key that can sign.
func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return signer, nil
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
