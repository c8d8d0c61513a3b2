package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	// ServingValidity is how long a new serving certificate is valid.
	ServingValidity = 365 * 24 * time.Hour
	// RenewBefore is how close to expiry a serving certificate is reissued on start.
	RenewBefore = 90 * 24 * time.Hour
)

// EnsureServingCert returns the TLS key pair stored in certFile and keyFile if it is signed by ca,
// names exactly hosts (IP addresses and DNS names, in any order, duplicates ignored) and stays
// valid for more than RenewBefore after now. Otherwise it issues a new ECDSA P-256 pair for hosts,
// valid for ServingValidity, writes it (the key readable by its owner only) and returns it.
//
// reason is empty when the stored pair was reused, else why a new one was issued.
func EnsureServingCert(ca *CA, certFile, keyFile string, hosts []string, now time.Time) (cert tls.Certificate, reason string, err error) {
	want := newSANs(hosts)
	if len(want) == 0 {
		return tls.Certificate{}, "", fmt.Errorf("pki: serving certificate needs at least one host")
	}
	cert, reason = loadServingCert(ca, certFile, keyFile, want, now)
	if reason == "" {
		return cert, "", nil
	}
	cert, err = issueServingCert(ca, certFile, keyFile, want, now)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	return cert, reason, nil
}

// loadServingCert returns the stored pair, or a reason it cannot be used.
func loadServingCert(ca *CA, certFile, keyFile string, want sans, now time.Time) (tls.Certificate, string) {
	if !exists(certFile) || !exists(keyFile) {
		return tls.Certificate{}, "no serving certificate yet"
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Sprintf("unreadable certificate: %v", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Sprintf("unreadable key: %v", err)
	}
	// X509KeyPair also checks that the key matches the certificate.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Sprintf("invalid key pair: %v", err)
	}
	leaf := pair.Leaf
	if leaf == nil { // only with GODEBUG=x509keypairleaf=0
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Sprintf("invalid certificate: %v", err)
		}
		pair.Leaf = leaf
	}
	switch {
	case leaf.CheckSignatureFrom(ca.Cert) != nil:
		return tls.Certificate{}, "not signed by the current CA"
	case !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth):
		return tls.Certificate{}, "not a serving certificate"
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, "not valid yet"
	case now.Add(RenewBefore).After(leaf.NotAfter):
		return tls.Certificate{}, "expires soon"
	case !maps.Equal(sansOf(leaf), want):
		return tls.Certificate{}, "hosts changed"
	}
	return pair, ""
}

func issueServingCert(ca *CA, certFile, keyFile string, want sans, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generate serving key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	ips, dnsNames := want.split()
	notAfter := now.Add(ServingValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "skiff"},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: create serving certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := encodeCert(der)
	if err := writeFileAtomic(keyFile, keyPEM, modePrivate); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certFile, certPEM, modePublic); err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: load new serving certificate: %w", err)
	}
	return pair, nil
}

// sans is a set of subject alternative names, keyed "ip:ADDR" or "dns:name" in canonical form.
type sans map[string]struct{}

// newSANs classifies hosts as IP addresses or DNS names; empty strings are skipped.
func newSANs(hosts []string) sans {
	s := sans{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			s["ip:"+ip.String()] = struct{}{}
		} else {
			s["dns:"+strings.ToLower(h)] = struct{}{}
		}
	}
	return s
}

func sansOf(cert *x509.Certificate) sans {
	s := sans{}
	for _, ip := range cert.IPAddresses {
		s["ip:"+ip.String()] = struct{}{}
	}
	for _, name := range cert.DNSNames {
		s["dns:"+strings.ToLower(name)] = struct{}{}
	}
	return s
}

// split returns the set's IP addresses and DNS names, each sorted.
func (s sans) split() ([]net.IP, []string) {
	var ips []net.IP
	var names []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if v, ok := strings.CutPrefix(k, "ip:"); ok {
			ip := net.ParseIP(v)
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			ips = append(ips, ip)
		} else {
			names = append(names, strings.TrimPrefix(k, "dns:"))
		}
	}
	return ips, names
}
