package cli

import (
	"crypto/subtle"
	"crypto/tls"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/skiff-dev/skiff/internal/pki"
)

// credentials are what the server proves itself with and what clients authenticate with, all
// kept in the data directory.
type credentials struct {
	caPEM      []byte          // the CA certificate clients trust
	serving    tls.Certificate // signed by the CA
	adminToken string          // user "admin"
	agentToken string          // user "system:node": agents join with it
}

// ensureCredentials reads the CA, serving certificate and tokens from the data directory,
// creating whatever is missing and reissuing the serving certificate when hosts changed.
func ensureCredentials(cfg serverConfig, hosts []string, now time.Time, log *slog.Logger) (*credentials, error) {
	ca, created, err := pki.LoadOrCreateCA(cfg.path(caCertFile), cfg.path(caKeyFile), now)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created CA", "path", cfg.path(caCertFile), "expires", ca.Cert.NotAfter.Format(time.DateOnly))
	}

	serving, reason, err := pki.EnsureServingCert(ca, cfg.path(servingCertFile), cfg.path(servingKeyFile), hosts, now)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		log.Info("issued serving certificate", "reason", reason, "hosts", strings.Join(hosts, ","))
	}

	c := &credentials{caPEM: ca.CertPEM, serving: serving}
	for _, t := range []struct {
		file string
		dst  *string
	}{
		{adminTokenFile, &c.adminToken},
		{agentTokenFile, &c.agentToken},
	} {
		tok, created, err := pki.EnsureToken(cfg.path(t.file))
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("created token", "path", cfg.path(t.file))
		}
		*t.dst = tok
	}
	return c, nil
}

// servingHosts are the names the serving certificate must cover: loopback, the bind and
// advertise addresses, the host name, and the names and ClusterIP pods use to reach the
// "kubernetes" Service.
func servingHosts(cfg serverConfig, hostname string) []string {
	hosts := []string{
		"127.0.0.1", "::1", "localhost",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
	}
	if !cfg.bind.IsUnspecified() {
		hosts = append(hosts, cfg.bind.String())
	}
	hosts = append(hosts, cfg.advertise.String())
	if hostname != "" {
		hosts = append(hosts, hostname)
	}
	if ip := firstServiceIP(cfg.serviceCIDR); ip != nil {
		hosts = append(hosts, ip.String())
	}
	seen := make(map[string]bool, len(hosts))
	return slices.DeleteFunc(hosts, func(h string) bool {
		dup := seen[h]
		seen[h] = true
		return dup
	})
}

// firstServiceIP is the first address after the network address of cidr: the kubernetes
// Service's ClusterIP, as in Kubernetes. It is nil if cidr has no room for one.
func firstServiceIP(cidr *net.IPNet) net.IP {
	ip := cidr.IP.Mask(cidr.Mask)
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	next := make(net.IP, len(ip))
	copy(next, ip)
	for i := len(next) - 1; i >= 0; i-- {
		next[i]++
		if next[i] != 0 {
			break
		}
	}
	if !cidr.Contains(next) {
		return nil
	}
	return next
}

// authenticate maps a bearer token to its user: the admin token to "admin", the agent token to
// "system:node". It takes the same time for every wrong token of a given length.
func (c *credentials) authenticate(token string) (user string, ok bool) {
	admin := subtle.ConstantTimeCompare([]byte(token), []byte(c.adminToken)) == 1
	agent := subtle.ConstantTimeCompare([]byte(token), []byte(c.agentToken)) == 1
	switch {
	case token == "":
		return "", false
	case admin:
		return "admin", true
	case agent:
		return "system:node", true
	}
	return "", false
}
