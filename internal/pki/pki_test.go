package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// paths names the files of one test's data directory.
type paths struct{ caCert, caKey, cert, key string }

func newPaths(t *testing.T) paths {
	dir := t.TempDir()
	return paths{
		caCert: filepath.Join(dir, "ca.crt"),
		caKey:  filepath.Join(dir, "ca.key"),
		cert:   filepath.Join(dir, "server.crt"),
		key:    filepath.Join(dir, "server.key"),
	}
}

func mustCA(t *testing.T, p paths, now time.Time) *CA {
	t.Helper()
	ca, _, err := LoadOrCreateCA(p.caCert, p.caKey, now)
	if err != nil {
		t.Fatalf("LoadOrCreateCA: %v", err)
	}
	return ca
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
	}
}

func TestLoadOrCreateCA(t *testing.T) {
	p := newPaths(t)
	ca, created, err := LoadOrCreateCA(p.caCert, p.caKey, t0)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateCA = created %v, err %v; want created", created, err)
	}
	c := ca.Cert
	if !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("not a signing CA: IsCA %v, KeyUsage %v", c.IsCA, c.KeyUsage)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", c.PublicKey)
	}
	if got, want := c.NotAfter.Sub(t0), CAValidity; got != want {
		t.Errorf("valid for %v after now, want %v", got, want)
	}
	if !c.NotBefore.Before(t0) {
		t.Errorf("NotBefore %v not backdated before %v", c.NotBefore, t0)
	}
	wantMode(t, p.caKey, 0o600)
	wantMode(t, p.caCert, 0o644)

	again, created, err := LoadOrCreateCA(p.caCert, p.caKey, t0.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second LoadOrCreateCA = created %v, err %v; want reuse", created, err)
	}
	if !again.Cert.Equal(ca.Cert) || string(again.CertPEM) != string(ca.CertPEM) {
		t.Error("restart produced a different CA")
	}
}

func TestLoadOrCreateCARefusesToReplace(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, p paths)
		now    time.Time
		errHas string
	}{
		{
			name:   "key missing",
			damage: func(t *testing.T, p paths) { os.Remove(p.caKey) },
			now:    t0,
			errHas: "exists but its key",
		},
		{
			name:   "certificate missing",
			damage: func(t *testing.T, p paths) { os.Remove(p.caCert) },
			now:    t0,
			errHas: "exists but its certificate",
		},
		{
			name: "key from another CA",
			damage: func(t *testing.T, p paths) {
				other := newPaths(t)
				mustCA(t, other, t0)
				copyFile(t, other.caKey, p.caKey)
			},
			now:    t0,
			errHas: "does not match",
		},
		{
			name:   "garbage certificate",
			damage: func(t *testing.T, p paths) { os.WriteFile(p.caCert, []byte("nope"), 0o644) },
			now:    t0,
			errHas: "no PEM CERTIFICATE block",
		},
		{
			name:   "expired",
			damage: func(t *testing.T, p paths) {},
			now:    t0.Add(CAValidity + time.Hour),
			errHas: "expired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPaths(t)
			mustCA(t, p, t0)
			tt.damage(t, p)
			_, _, err := LoadOrCreateCA(p.caCert, p.caKey, tt.now)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v, want one containing %q", err, tt.errHas)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureServingCert(t *testing.T) {
	p := newPaths(t)
	ca := mustCA(t, p, t0)
	hosts := []string{"127.0.0.1", "localhost", "10.1.2.3", "Node-1", "::1", "127.0.0.1", ""}

	cert, reason, err := EnsureServingCert(ca, p.cert, p.key, hosts, t0)
	if err != nil || reason == "" {
		t.Fatalf("first EnsureServingCert = reason %q, err %v; want a new certificate", reason, err)
	}
	leaf := cert.Leaf
	if err := leaf.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.1.2.3", "127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IP SANs %v, want %v", ips, want)
	}
	if want := []string{"localhost", "node-1"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS SANs %v, want %v", leaf.DNSNames, want)
	}
	if got, want := leaf.NotAfter.Sub(t0), ServingValidity; got != want {
		t.Errorf("valid for %v, want %v", got, want)
	}
	wantMode(t, p.key, 0o600)
	wantMode(t, p.cert, 0o644)

	// A client trusting the CA accepts the certificate for every host.
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, h := range []string{"127.0.0.1", "localhost", "10.1.2.3", "node-1", "::1"} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: h, CurrentTime: t0})
		if err != nil {
			t.Errorf("verify for %s: %v", h, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "10.9.9.9", CurrentTime: t0}); err == nil {
		t.Error("verified for a host it does not name")
	}
}

func TestEnsureServingCertReuseAndReissue(t *testing.T) {
	hosts := []string{"127.0.0.1", "localhost"}
	tests := []struct {
		name       string
		hosts      []string
		now        time.Time
		change     func(t *testing.T, p paths) // between the first and second call
		wantReason string                      // "" means reused
	}{
		{name: "same hosts reuse", hosts: hosts, now: t0.Add(time.Hour)},
		{name: "same hosts in another order reuse", hosts: []string{"localhost", "127.0.0.1", "LOCALHOST"}, now: t0},
		{name: "added host reissues", hosts: append(slices.Clone(hosts), "192.168.0.7"), now: t0, wantReason: "hosts changed"},
		{name: "removed host reissues", hosts: []string{"127.0.0.1"}, now: t0, wantReason: "hosts changed"},
		{name: "near expiry reissues", hosts: hosts, now: t0.Add(ServingValidity - RenewBefore + time.Hour), wantReason: "expires soon"},
		{
			name: "deleted key reissues", hosts: hosts, now: t0,
			change:     func(t *testing.T, p paths) { os.Remove(p.key) },
			wantReason: "no serving certificate yet",
		},
		{
			name: "new CA reissues", hosts: hosts, now: t0,
			change: func(t *testing.T, p paths) {
				os.Remove(p.caCert)
				os.Remove(p.caKey)
				mustCA(t, p, t0)
			},
			wantReason: "not signed by the current CA",
		},
		{
			name: "corrupt certificate reissues", hosts: hosts, now: t0,
			change:     func(t *testing.T, p paths) { os.WriteFile(p.cert, []byte("x"), 0o644) },
			wantReason: "invalid key pair",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPaths(t)
			ca := mustCA(t, p, t0)
			first, _, err := EnsureServingCert(ca, p.cert, p.key, hosts, t0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(t, p)
				ca = mustCA(t, p, t0)
			}

			second, reason, err := EnsureServingCert(ca, p.cert, p.key, tt.hosts, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(reason, tt.wantReason) || (tt.wantReason == "") != (reason == "") {
				t.Fatalf("reason %q, want %q", reason, tt.wantReason)
			}
			same := second.Leaf.Equal(first.Leaf)
			if same != (tt.wantReason == "") {
				t.Errorf("certificate reused = %v, want %v", same, tt.wantReason == "")
			}
			if !maps.Equal(sansOf(second.Leaf), newSANs(tt.hosts)) {
				t.Errorf("SANs %v, want %v", sansOf(second.Leaf), newSANs(tt.hosts))
			}
		})
	}
}

func TestEnsureServingCertNeedsHosts(t *testing.T) {
	p := newPaths(t)
	ca := mustCA(t, p, t0)
	if _, _, err := EnsureServingCert(ca, p.cert, p.key, []string{"", " "}, t0); err == nil {
		t.Fatal("issued a certificate for no hosts")
	}
}

func TestEnsureToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	tok, created, err := EnsureToken(path)
	if err != nil || !created {
		t.Fatalf("first EnsureToken = created %v, err %v", created, err)
	}
	raw, err := hex.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Errorf("token %q is not 32 hex-encoded bytes", tok)
	}
	wantMode(t, path, 0o600)

	again, created, err := EnsureToken(path)
	if err != nil || created || again != tok {
		t.Fatalf("second EnsureToken = %q, created %v, err %v; want the same token", again, created, err)
	}

	other, _, err := EnsureToken(filepath.Join(t.TempDir(), "token"))
	if err != nil || other == tok {
		t.Errorf("two new tokens are equal (%q) or failed: %v", other, err)
	}
}

func TestEnsureTokenExistingFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		wantErr bool
	}{
		{name: "hand-written token with newline is trimmed", content: "s3cret\n", mode: 0o600, want: "s3cret"},
		{name: "world-readable file is narrowed", content: "s3cret", mode: 0o644, want: "s3cret"},
		{name: "empty file is an error", content: "\n", mode: 0o600, wantErr: true},
		{name: "two tokens is an error", content: "a b\n", mode: 0o600, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // umask
				t.Fatal(err)
			}
			got, created, err := EnsureToken(path)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got token %q, want an error", got)
				}
				return
			}
			if err != nil || created || got != tt.want {
				t.Fatalf("EnsureToken = %q, created %v, err %v; want %q", got, created, err, tt.want)
			}
			wantMode(t, path, 0o600)
		})
	}
}

func TestNewSANs(t *testing.T) {
	got := newSANs([]string{"127.0.0.1", "::ffff:127.0.0.1", "Example.COM", " example.com ", "0:0:0:0:0:0:0:1"})
	want := sans{"ip:127.0.0.1": {}, "dns:example.com": {}, "ip:::1": {}}
	if !maps.Equal(got, want) {
		t.Errorf("newSANs = %v, want %v", got, want)
	}
	ips, names := want.split()
	if len(ips) != 2 || !ips[0].Equal(net.ParseIP("127.0.0.1")) || len(ips[0]) != net.IPv4len {
		t.Errorf("split IPs %v, want 127.0.0.1 (4-byte) first", ips)
	}
	if !slices.Equal(names, []string{"example.com"}) {
		t.Errorf("split names %v", names)
	}
}
